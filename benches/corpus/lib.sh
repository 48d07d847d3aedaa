# Sourced by every build.sh here: sets $here (the script's directory) and $work (a
# temporary directory removed on exit), and defines debian_source.
here=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# debian_source PACKAGE VERSION UNPACKED_DIR [SOURCE_DIR]: sets $src to SOURCE_DIR when
# given, else to the Debian source package fetched with apt-get source into $work.
debian_source() {
    if [ $# -ge 4 ]; then
        src=$(cd "$4" && pwd)
    else
        (cd "$work" && apt-get source "$1=$2" >/dev/null)
        src="$work/$3"
    fi
}
