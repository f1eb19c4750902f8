"""Reports for people: per-subject plots of a replay's outputs (:mod:`.plot`)."""
