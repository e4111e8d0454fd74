#!/bin/sh
# spoolq-put.sh: write one message into a spoolq spool with POSIX shell tools alone.
#
#   spoolq-put.sh [-t TYPE] [-c CONTENT_TYPE] [-H KEY=VALUE]... SPOOL_DIR [BODY]
#
# BODY is the text body; without it (or with "-") the body is read from stdin.
# Prints the element name DIR/ELEMENT.  The element is a version-1 spoolq
# envelope (the EMI messaging JSON), written in the python-dirq QueueSimple
# layout: an 8-hex intermediate directory (time rounded down to
# $SPOOLQ_GRANULARITY seconds, default 60), a 14-hex element name
# SSSSSSSSMMMMMR, written as NAME.tmp and then renamed to NAME without
# replacing an existing element.  Text bodies only (a shell variable cannot hold
# a NUL byte).  Needs: printf, mv, mkdir, date, od, cat, uname.
set -eu

usage() {
    printf 'usage: %s [-t TYPE] [-c CONTENT_TYPE] [-H KEY=VALUE]... SPOOL_DIR [BODY]\n' "$0" >&2
    exit 2
}

nl='
'
tab=$(printf '\t')
cr=$(printf '\r')
ctl=$(printf '\001\002\003\004\005\006\007\010\013\014\016\017\020\021\022\023\024\025\026\027\030\031\032\033\034\035\036\037')

# json_escape TEXT: TEXT as the inside of a JSON string (byte by byte; UTF-8 passes through).
json_escape() {
    s=$1
    out=
    while [ -n "$s" ]; do
        rest=${s#?}
        c=${s%"$rest"}
        s=$rest
        case $c in
            \\) out="$out\\\\" ;;
            \") out="$out\\\"" ;;
            "$nl") out="$out\\n" ;;
            "$tab") out="$out\\t" ;;
            "$cr") out="$out\\r" ;;
            ["$ctl"]) out="$out$(printf '\\u%04x' "'$c")" ;;
            *) out="$out$c" ;;
        esac
    done
    printf '%s' "$out"
}

# random_hex BYTES: that many random bytes as lowercase hex.
random_hex() {
    # shellcheck disable=SC2046  # word splitting of od's output is the point
    set -- $(od -An -N"$1" -tx1 /dev/urandom)
    printf '%s' "$@"
}

headers=
add_header() {
    headers="$headers,\"$(json_escape "$1")\":\"$(json_escape "$2")\""
}

type=
content_type=
extra=
while getopts 't:c:H:' opt; do
    case $opt in
        t) type=$OPTARG ;;
        c) content_type=$OPTARG ;;
        H) case $OPTARG in
               ?*=*) extra="$extra$OPTARG$nl" ;;
               *) usage ;;
           esac ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] && [ $# -le 2 ] || usage
spool=$1
[ -d "$spool" ] || { printf 'spoolq-put.sh: %s: no such spool directory\n' "$spool" >&2; exit 3; }

if [ $# -eq 2 ] && [ "$2" != - ]; then
    body=$2
else
    body=$(cat; printf x)  # the x keeps trailing newlines, which $(...) would strip
    body=${body%x}
fi

now=$(date +%s)
add_header message-id "$(random_hex 16)"
add_header timestamp "$now"
add_header sender "$(uname -n):$$"
[ -n "$type" ] && add_header type "$type"
[ -n "$content_type" ] && add_header content-type "$content_type"
while [ -n "$extra" ]; do
    pair=${extra%%"$nl"*}
    extra=${extra#*"$nl"}
    add_header "${pair%%=*}" "${pair#*=}"
done

granularity=${SPOOLQ_GRANULARITY:-60}
dir=$(printf '%08x' $((now - now % granularity)))
mkdir -p "$spool/$dir"

# element_name: SSSSSSSS seconds, MMMMM microseconds, R random digit.
element_name() {
    micros=$(date +%N 2>/dev/null || :)
    case $micros in
        [0-9][0-9][0-9][0-9][0-9][0-9]*) micros=${micros%???}; micros=${micros#"${micros%%[!0]*}"} ;;
        *) micros=$(od -An -N4 -tu4 /dev/urandom) ;;
    esac
    rnd=$(od -An -N1 -tu1 /dev/urandom)
    printf '%08x%05x%01x' "$(date +%s)" $((${micros:-0} % 1000000)) $((rnd % 16))
}

name=$(element_name)
tmp="$spool/$dir/$name.tmp"
printf '{"header":{%s},"body":"%s","text":true}' "${headers#,}" "$(json_escape "$body")" > "$tmp"

# Publish: rename, never over an existing element (mv -n refuses to replace;
# the .tmp still being there means the name was taken, so pick another).
while :; do
    mv -n "$tmp" "$spool/$dir/$name"
    [ -e "$tmp" ] || break
    name=$(element_name)
done
printf '%s/%s\n' "$dir" "$name"
