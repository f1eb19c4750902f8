#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft: broker and controller in one JVM, no ZooKeeper)
# from Maven Central jars, for development, tests and CI. No Docker.
#
#   kafka.sh fetch                 resolve the broker jars into the cache (idempotent, fast when warm)
#   kafka.sh start [options]       fetch if needed, format a log dir, start, wait until ready
#       --port N                   PLAINTEXT port on 127.0.0.1 (default $PHENOTYPING_KAFKA_PORT or 9092)
#       --controller-port N        KRaft CONTROLLER port (default: a free port)
#       --dir DIR                  state dir: config, data, logs, pid (default $PHENOTYPING_KAFKA_DIR
#                                  or ${TMPDIR:-/tmp}/phenotyping-kafka)
#       --fresh                    wipe DIR's data first (by default a formatted DIR is reused)
#       --auto-create-topics       set auto.create.topics.enable=true (default false, see below)
#       --timeout S                seconds to wait for readiness (default 120)
#       --watch-pid PID            stop the broker when process PID exits (used by tests)
#   kafka.sh stop [--dir DIR] [--timeout S]   SIGTERM, wait (default 30 s), then SIGKILL
#   kafka.sh status [--dir DIR]    exit 0 and print the bootstrap address if running, else exit 3
#   kafka.sh version               print the pinned Kafka version (from pom.xml)
#   kafka.sh classpath             print the classpath (cache/libs/*) for other Kafka main classes
#
# Environment: PHENOTYPING_KAFKA_HOME (jar cache, default ~/.cache/phenotyping/kafka-<version>),
# PHENOTYPING_KAFKA_HEAP (default 512m), PHENOTYPING_KAFKA_JAVA_OPTS (extra JVM flags),
# JAVA_HOME (else java from PATH). Needs Java 17+, Maven (only for a cold fetch), python3 (optional,
# for free ports and a protocol-level readiness probe).
#
# auto.create.topics.enable is false by default: code under test must create the topics it uses
# (faust and the admin client do), a misspelt topic name then fails loudly instead of silently
# creating a 1-partition topic, and production brokers are normally run that way too.
#
# Exit codes: 0 ok, 1 error, 2 usage, 3 not running (status), 69 a prerequisite (java, mvn, the
# jars) cannot be had here.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
POM="$HERE/pom.xml"
PROG="kafka.sh"
EX_UNAVAILABLE=69

die() { echo "$PROG: error: $*" >&2; exit 1; }
unavailable() { echo "$PROG: unavailable: $*" >&2; exit "$EX_UNAVAILABLE"; }
usage_error() { echo "$PROG: $*" >&2; echo "run '$0 help' for usage" >&2; exit 2; }
log() { echo "$PROG: $*" >&2; }

[[ -f "$POM" ]] || die "pom.xml not found next to $0"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n 1)"
[[ -n "$KAFKA_VERSION" ]] || die "no <kafka.version> property in $POM"
CACHE="${PHENOTYPING_KAFKA_HOME:-$HOME/.cache/phenotyping/kafka-$KAFKA_VERSION}"
LIBS="$CACHE/libs"
STAMP="$CACHE/.fetched"
DEFAULT_DIR="${PHENOTYPING_KAFKA_DIR:-${TMPDIR:-/tmp}/phenotyping-kafka}"
READY_LINE="Kafka Server started"

have() { command -v "$1" >/dev/null 2>&1; }

pom_hash() { sha256sum "$POM" | cut -d' ' -f1; }

now_ms() { date +%s%3N; }

# ---------------------------------------------------------------------------------------- java
JAVA=""
find_java() {
    if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
        JAVA="$JAVA_HOME/bin/java"
    elif have java; then
        JAVA="$(command -v java)"
    else
        unavailable "java not found: install a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
    fi
    local line major
    line="$("$JAVA" -version 2>&1 | head -n 1)"
    major="$(sed -n 's/.*version "\([0-9]*\).*/\1/p' <<<"$line")"
    if [[ -z "$major" || "$major" -lt 17 ]]; then
        unavailable "Kafka $KAFKA_VERSION needs Java 17+, found: $line ($JAVA); install openjdk-17-jre-headless or set JAVA_HOME"
    fi
}

# --------------------------------------------------------------------------------------- fetch
fetched() { [[ -f "$STAMP" && -d "$LIBS" && "$(cat "$STAMP")" == "$(pom_hash)" ]]; }

cmd_fetch() {
    [[ $# -eq 0 ]] || usage_error "fetch takes no arguments"
    if fetched; then
        echo "$LIBS"
        return 0
    fi
    have mvn || unavailable "mvn not found: install Apache Maven (Debian: apt-get install maven) to fetch the Kafka $KAFKA_VERSION jars into $CACHE"
    mkdir -p "$CACHE"
    # One fetch at a time per cache (parallel test workers may all call start at once).
    exec 9>"$CACHE/.lock"
    if have flock; then flock 9; fi
    if fetched; then  # another process finished it while we waited
        echo "$LIBS"
        return 0
    fi
    local tmp="$CACHE/libs.tmp.$$" t0
    t0="$(now_ms)"
    rm -rf "$tmp"
    log "fetching Kafka $KAFKA_VERSION jars into $LIBS (maven)"
    if ! mvn -q -B -f "$POM" dependency:copy-dependencies \
            -DincludeScope=runtime -DoutputDirectory="$tmp" >"$CACHE/fetch.log" 2>&1; then
        tail -n 30 "$CACHE/fetch.log" >&2 || true
        rm -rf "$tmp"
        unavailable "maven could not resolve the Kafka $KAFKA_VERSION jars (full log: $CACHE/fetch.log)"
    fi
    compgen -G "$tmp/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null \
        || { rm -rf "$tmp"; die "maven ran but kafka_2.13-$KAFKA_VERSION.jar is missing from $tmp"; }
    rm -rf "$LIBS.old"
    [[ -d "$LIBS" ]] && mv "$LIBS" "$LIBS.old"
    mv "$tmp" "$LIBS"
    rm -rf "$LIBS.old"
    pom_hash >"$STAMP"
    log "fetched $(find "$LIBS" -name '*.jar' | wc -l) jars in $(( $(now_ms) - t0 ))ms"
    echo "$LIBS"
}

# ------------------------------------------------------------------------------------- helpers
free_port() {
    if have python3; then
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
        return
    fi
    local p _
    for _ in $(seq 1 200); do
        p=$(( 20000 + RANDOM % 30000 ))
        port_open "$p" || { echo "$p"; return; }
    done
    die "could not find a free port"
}

port_open() {  # something accepts TCP connections on 127.0.0.1:$1
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A Kafka ApiVersions request (v0) answered with error 0 or UNSUPPORTED_VERSION means a Kafka
# broker is serving requests on the port. Falls back to a TCP connect without python3.
kafka_answers() {
    if ! have python3; then port_open "$1"; return; fi
    python3 - "$1" <<'PY' 2>/dev/null
import socket, struct, sys
port = int(sys.argv[1])
cid = b"phenotyping-kafka-sh"
body = struct.pack(">hhih", 18, 0, 4242, len(cid)) + cid
with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
    s.settimeout(2)
    s.sendall(struct.pack(">i", len(body)) + body)
    buf = b""
    while len(buf) < 10:
        chunk = s.recv(4096)
        if not chunk:
            sys.exit(1)
        buf += chunk
_, corr, err = struct.unpack(">iih", buf[:10])
sys.exit(0 if corr == 4242 and err in (0, 35) else 1)
PY
}

# The storage tool's main class: kafka.tools.StorageTool (Scala, up to at least 4.4) or its Java
# successor; looked up in the jars' central directories, so a version bump needs no edit here.
storage_tool_class() {
    local cls
    for cls in kafka.tools.StorageTool org.apache.kafka.tools.StorageTool; do
        if grep -qaF "${cls//.//}.class" "$LIBS"/kafka*.jar; then
            echo "$cls"
            return
        fi
    done
    die "no StorageTool class in $LIBS (Kafka $KAFKA_VERSION)"
}

new_cluster_id() {  # what Uuid.randomUuid().toString() gives: 16 random bytes, base64url, no padding
    local id
    while :; do
        id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
        [[ "$id" == -* ]] || { echo "$id"; return; }
    done
}

pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

# The pid in DIR/kafka.pid, if that process is alive and is the broker started from DIR.
broker_pid() {
    local dir="$1" pid
    [[ -f "$dir/kafka.pid" ]] || return 1
    pid="$(cat "$dir/kafka.pid" 2>/dev/null || true)"
    pid_alive "$pid" || return 1
    if [[ -r "/proc/$pid/cmdline" ]]; then
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "kafka.Kafka $dir/server.properties" || return 1
    fi
    echo "$pid"
}

print_log_tail() {
    local dir="$1" f shown=0
    for f in "$dir/server.log" "$dir/kafka.out"; do
        if [[ -s "$f" ]]; then
            echo "----- last 40 lines of $f -----" >&2
            tail -n 40 "$f" >&2
            shown=1
        fi
    done
    [[ $shown -eq 1 ]] || log "(the broker wrote no log output yet: $dir/server.log, $dir/kafka.out)"
}

abs_dir() { mkdir -p "$1" && (cd "$1" && pwd -P); }

# --------------------------------------------------------------------------------------- start
cmd_start() {
    local port="${PHENOTYPING_KAFKA_PORT:-9092}" cport="" dir="$DEFAULT_DIR" fresh=0 autocreate=false
    local timeout=120 watch_pid=""
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --port) port="${2:?--port needs a value}"; shift 2 ;;
            --controller-port) cport="${2:?--controller-port needs a value}"; shift 2 ;;
            --dir) dir="${2:?--dir needs a value}"; shift 2 ;;
            --fresh) fresh=1; shift ;;
            --auto-create-topics) autocreate=true; shift ;;
            --timeout) timeout="${2:?--timeout needs a value}"; shift 2 ;;
            --watch-pid) watch_pid="${2:?--watch-pid needs a value}"; shift 2 ;;
            *) usage_error "start: unknown option $1" ;;
        esac
    done
    [[ "$port" =~ ^[0-9]+$ ]] || usage_error "--port must be a number, got '$port'"
    [[ -z "$cport" || "$cport" =~ ^[0-9]+$ ]] || usage_error "--controller-port must be a number"
    [[ "$timeout" =~ ^[0-9]+$ ]] || usage_error "--timeout must be whole seconds"

    find_java
    cmd_fetch >/dev/null
    dir="$(abs_dir "$dir")"

    local pid
    if pid="$(broker_pid "$dir")"; then
        local running_port
        running_port="$(cat "$dir/port" 2>/dev/null || echo "?")"
        if [[ "$running_port" == "$port" ]]; then
            log "already running in $dir (pid $pid)"
            echo "127.0.0.1:$port"
            return 0
        fi
        die "a broker is already running in $dir (pid $pid) on port $running_port; stop it first"
    fi
    rm -f "$dir/kafka.pid"
    port_open "$port" && die "port $port on 127.0.0.1 is already in use (pick another with --port)"
    [[ -n "$cport" ]] || cport="$(free_port)"
    [[ "$cport" != "$port" ]] || usage_error "--controller-port must differ from --port"
    port_open "$cport" && die "controller port $cport on 127.0.0.1 is already in use"

    if [[ $fresh -eq 1 ]]; then rm -rf "$dir/data"; fi
    mkdir -p "$dir/data"
    local t0
    t0="$(now_ms)"

    cat >"$dir/server.properties" <<EOF
# Written by deploy/kafka/kafka.sh: single-node KRaft (broker + controller), loopback only.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
auto.create.topics.enable=$autocreate
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF

    cat >"$dir/log4j2.properties" <<'EOF'
# Written by deploy/kafka/kafka.sh: broker log to DIR/server.log (3 x 10 MB).
status = warn
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.filePattern = ${sys:kafka.logs.dir}/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 10MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
EOF

    if [[ ! -f "$dir/data/meta.properties" ]]; then
        local cluster_id
        cluster_id="$(new_cluster_id)"
        local storage_tool
        storage_tool="$(storage_tool_class)"
        if ! "$JAVA" -Xmx256m -cp "$LIBS/*" "$storage_tool" format \
                --cluster-id "$cluster_id" --config "$dir/server.properties" \
                >"$dir/format.log" 2>&1; then
            cat "$dir/format.log" >&2
            die "formatting $dir/data failed (log: $dir/format.log)"
        fi
    else
        log "reusing formatted data in $dir/data (pass --fresh to wipe it)"
    fi

    # Keep one previous log so a restart's readiness check only sees this run's lines.
    [[ -f "$dir/server.log" ]] && mv -f "$dir/server.log" "$dir/server.log.prev"
    rm -f "$dir/kafka.out"
    echo "$port" >"$dir/port"

    local heap="${PHENOTYPING_KAFKA_HEAP:-512m}"
    # shellcheck disable=SC2206  # word splitting of the extra options is intended
    local java_cmd=("$JAVA" "-Xms128m" "-Xmx$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20
        -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
        "-Dkafka.logs.dir=$dir" "-Dlog4j2.configurationFile=$dir/log4j2.properties"
        -Dlog4j2.shutdownHookEnabled=false
        ${PHENOTYPING_KAFKA_JAVA_OPTS:-}
        -cp "$LIBS/*" kafka.Kafka "$dir/server.properties")
    # New session (no terminal signals), stdio to files (never the caller's pipes), pid from the
    # process itself (exec keeps it).
    local launcher=()
    have setsid && launcher=(setsid)
    # shellcheck disable=SC2016  # $$ and $@ belong to the inner bash
    "${launcher[@]}" bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$dir/kafka.pid" "${java_cmd[@]}" \
        </dev/null >"$dir/kafka.out" 2>&1 &
    local deadline=$(( $(date +%s) + timeout ))
    pid=""
    while [[ -z "$pid" ]]; do
        pid="$(cat "$dir/kafka.pid" 2>/dev/null || true)"
        [[ -n "$pid" ]] || sleep 0.05
        [[ $(date +%s) -lt $deadline ]] || die "broker process did not start"
    done

    while :; do
        if ! pid_alive "$pid"; then
            print_log_tail "$dir"
            rm -f "$dir/kafka.pid"
            die "broker exited during startup (dir $dir)"
        fi
        if grep -qF "$READY_LINE" "$dir/server.log" 2>/dev/null && kafka_answers "$port"; then
            break
        fi
        if [[ $(date +%s) -ge $deadline ]]; then
            print_log_tail "$dir"
            log "broker not ready after ${timeout}s; stopping it"
            cmd_stop --dir "$dir" >/dev/null 2>&1 || true
            die "broker on 127.0.0.1:$port was not ready within ${timeout}s (logs in $dir)"
        fi
        sleep 0.2
    done

    if [[ -n "$watch_pid" ]]; then
        # Stop the broker if the process that asked for it dies without stopping it (a killed test run).
        # shellcheck disable=SC2016  # the inner bash expands its own arguments
        "${launcher[@]}" bash -c '
            echo $$ >"$1/watchdog.pid"
            while kill -0 "$2" 2>/dev/null && kill -0 "$3" 2>/dev/null; do sleep 1; done
            if kill -0 "$3" 2>/dev/null; then "$4" stop --dir "$1"; fi
        ' _ "$dir" "$watch_pid" "$pid" "$HERE/kafka.sh" </dev/null >>"$dir/watchdog.log" 2>&1 &
    fi

    log "Kafka $KAFKA_VERSION ready on 127.0.0.1:$port (pid $pid, dir $dir, $(( $(now_ms) - t0 ))ms)"
    echo "127.0.0.1:$port"
}

# ---------------------------------------------------------------------------------------- stop
cmd_stop() {
    local dir="$DEFAULT_DIR" timeout=30
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --dir) dir="${2:?--dir needs a value}"; shift 2 ;;
            --timeout) timeout="${2:?--timeout needs a value}"; shift 2 ;;
            *) usage_error "stop: unknown option $1" ;;
        esac
    done
    [[ -d "$dir" ]] || { log "not running (no $dir)"; return 0; }
    dir="$(cd "$dir" && pwd -P)"
    local wpid
    wpid="$(cat "$dir/watchdog.pid" 2>/dev/null || true)"
    if [[ -n "$wpid" && "$wpid" != "$$" && "$wpid" != "$PPID" ]] && pid_alive "$wpid"; then
        kill "$wpid" 2>/dev/null || true
    fi
    rm -f "$dir/watchdog.pid"
    local pid
    if ! pid="$(broker_pid "$dir")"; then
        rm -f "$dir/kafka.pid"
        log "not running ($dir)"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$(( $(date +%s) + timeout ))
    while pid_alive "$pid" && [[ $(date +%s) -lt $deadline ]]; do sleep 0.1; done
    if pid_alive "$pid"; then
        log "broker (pid $pid) still running ${timeout}s after SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        while pid_alive "$pid"; do sleep 0.1; done
    fi
    rm -f "$dir/kafka.pid"
    log "stopped broker (pid $pid, dir $dir)"
}

# -------------------------------------------------------------------------------------- status
cmd_status() {
    local dir="$DEFAULT_DIR"
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --dir) dir="${2:?--dir needs a value}"; shift 2 ;;
            *) usage_error "status: unknown option $1" ;;
        esac
    done
    local pid
    if [[ -d "$dir" ]] && dir="$(cd "$dir" && pwd -P)" && pid="$(broker_pid "$dir")"; then
        local port
        port="$(cat "$dir/port" 2>/dev/null || echo "?")"
        if kafka_answers "$port"; then
            echo "running: 127.0.0.1:$port (pid $pid, dir $dir, Kafka $KAFKA_VERSION)"
        else
            echo "running but not answering: 127.0.0.1:$port (pid $pid, dir $dir)"
        fi
        return 0
    fi
    echo "not running (dir $dir)"
    return 3
}

# ---------------------------------------------------------------------------------------- main
cmd="${1:-help}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
    fetch) cmd_fetch "$@" ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    version) echo "$KAFKA_VERSION" ;;
    classpath) fetched || unavailable "jars not fetched: run '$0 fetch'"; echo "$LIBS/*" ;;
    help|-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' ;;
    *) usage_error "unknown command '$cmd' (fetch, start, stop, status, version, classpath, help)" ;;
esac
