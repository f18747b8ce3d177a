#!/bin/sh
# test_package.sh — the Debian package (scripts/package): built from this tree into the scratch
# directory, its contents and metadata read back with dpkg-deb, `cmake --install` at other
# prefixes; then, as root, installed and removed with dpkg (and with apt, as the README says),
# with the installed ccs run: --version, and config check on the example configuration.
#
# Installing needs root (dpkg writes /usr and its database). As another user the build and
# the package checks run and the test exits 77 (CTest: skipped), saying so; as root every
# part runs, there is no skip. As root it changes the machine (package, ccs user, /var/lib/ccs,
# /etc/ccs) only when none of them existed before, and puts it back as it was on every exit.
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/e2e/lib.sh"

version=$(sed -n 's/^project(ccs VERSION \([0-9.]*\).*/\1/p' "$top/CMakeLists.txt")
arch=$(dpkg --print-architecture)
build_under_test=$(dirname "$CCS")

# check WHAT CMD... — ok WHAT when CMD succeeds, else fail WHAT; check_not: when it fails.
check() {
    what=$1
    shift
    if "$@" >/dev/null 2>&1; then ok "$what"; else fail "$what"; fi
}
check_not() {
    what=$1
    shift
    if "$@" >/dev/null 2>&1; then fail "$what"; else ok "$what"; fi
}

# ---- build ---------------------------------------------------------------------------------------
# A release build of its own (the tree under test may be a sanitizer build): ~15 s of compiling.
if ! "$top/scripts/package" --no-setup --build-dir "$T/build" --out "$T/out" >package.out 2>&1; then
    fail "scripts/package failed:"
    sed 's/^/    /' package.out >&2
    finish
fi
deb=$(tail -1 package.out)
expect_eq "$deb" "$T/out/ccs_${version}_$arch.deb" "scripts/package prints ccs_VERSION_ARCH.deb"
[ -f "$deb" ] || { fail "no package at $deb"; finish; }

# ---- metadata ------------------------------------------------------------------------------------
field() { dpkg-deb -f "$deb" "$1"; }
expect_eq "$(field Package)" ccs "control: Package"
expect_eq "$(field Version)" "$version" "control: Version is the project's"
expect_eq "$(field Architecture)" "$arch" "control: Architecture"
check "control: Maintainer set" test -n "$(field Maintainer)"
check "control: Description set" test -n "$(field Description)"
# Depends, one package name a line.
field Depends | tr ',' '\n' | sed 's/^ *//; s/ .*//' | sort -u >depends
# The package of every library the packaged binary needs, found independently of dpkg-shlibdeps:
# the binary's NEEDED entries, each resolved by the loader and its file's owner asked of dpkg.
dpkg-deb -x "$deb" root
readelf -d root/usr/bin/ccs | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' >needed
check "readelf: the packaged binary has NEEDED libraries" test -s needed
ldd root/usr/bin/ccs >ldd.out
while IFS= read -r lib; do
    path=$(awk -v l="$lib" '$1 == l && $2 == "=>" { print $3; exit }' ldd.out)
    [ -n "$path" ] || { fail "library $lib of the packaged binary not found by ldd"; continue; }
    real=$(readlink -f "$path")
    owner=$(dpkg -S "$path" 2>/dev/null || dpkg -S "$real" 2>/dev/null) ||
        { fail "no package owns $path ($lib)"; continue; }
    pkg=$(printf '%s\n' "$owner" | head -1 | sed 's/:.*//')
    if grep -qx "$pkg" depends; then ok "Depends lists $pkg (for $lib)"; else
        fail "Depends lacks $pkg, the package of $lib: $(field Depends)"
    fi
done <needed
for pkg in libssl3 libcurl4 libsqlite3-0 libjansson4 libc6 adduser; do
    check "Depends lists $pkg" grep -qx "$pkg" depends
done
# libsmbclient is loaded with dlopen() for SMB stores: not among the NEEDED entries above, so the
# package must declare it itself, at a version that has every function ccs looks up.
check "Depends lists libsmbclient (dlopen()ed, not linked)" grep -qx libsmbclient depends
check "the packaged binary does not link libsmbclient" sh -c '! grep -q libsmbclient needed'
case $(field Depends) in
*"libsmbclient (>= 2:4.12.0+dfsg)"*) ok "Depends: libsmbclient 4.12 or later (smbc_getFunctionReaddirPlus2)" ;;
*) fail "Depends: no libsmbclient (>= 2:4.12.0+dfsg): $(field Depends)" ;;
esac

# ---- contents ------------------------------------------------------------------------------------
dpkg-deb -c "$deb" >contents
awk '{ print $NF }' contents | sed 's|/$||' >paths
expect_eq "$(awk '{ print $2 }' contents | sort -u)" root/root "contents: every file owned by root"
check "contents: /usr/bin/ccs" grep -qx './usr/bin/ccs' paths
check "contents: /usr/bin/ccs is 0755" grep -q '^-rwxr-xr-x .* \./usr/bin/ccs$' contents
for page in "$top"/man/*.[15]; do
    name=$(basename "$page")
    check "contents: man page $name" grep -qx "./usr/share/man/man${name##*.}/$name" paths
done
check "contents: ccs.conf.example" grep -qx './usr/share/doc/ccs/ccs.conf.example' paths
units=0
for unit in "$top"/systemd/*.service "$top"/systemd/*.timer; do
    [ -f "$unit" ] || continue
    units=$((units + 1))
    name=$(basename "$unit")
    if grep -qx "./usr/lib/systemd/system/$name" paths; then ok "contents: unit $name"; else
        fail "contents: unit $name not in ./usr/lib/systemd/system/"
        continue
    fi
    f=root/usr/lib/systemd/system/$name
    # The man pages its Documentation= names are in the package.
    for doc in $(sed -n 's/^Documentation=//p' "$f"); do
        case $doc in
        man:*\(*\))
            page=${doc#man:} section=${doc##*\(}
            page=${page%\(*} section=${section%\)}
            check "$name: Documentation=$doc is in the package" \
                grep -qx "./usr/share/man/man$section/$page.$section" paths
            ;;
        esac
    done
    check_not "$name: no unsubstituted @VARIABLE@" grep -q '@[A-Za-z_][A-Za-z0-9_]*@' "$f"
    grep '^ExecStart=' "$f" >"$name.exec" || true
    while IFS= read -r line; do
        case $line in
        ExecStart=/usr/bin/ccs | ExecStart=/usr/bin/ccs\ *) ok "$name: $line" ;;
        *) fail "$name: $line does not run /usr/bin/ccs" ;;
        esac
    done <"$name.exec"
done
check "$units units in systemd/ (at least the renew service and timer)" test "$units" -ge 2
check "ccs-renew.service: ExecStart=/usr/bin/ccs renew" \
    grep -qx 'ExecStart=/usr/bin/ccs renew' root/usr/lib/systemd/system/ccs-renew.service
# Nothing outside /usr, no build or scratch path baked in anywhere.
grep -v '^\./usr\(/\|$\)' paths | grep -vx '\.' >outside || true
check_not "contents: everything under /usr $(cat outside)" test -s outside
grep -rlF "$T" root >leaks || true
check_not "no scratch path in any packaged file $(cat leaks)" test -s leaks

# Maintainer scripts: present, executable, valid sh, fully substituted.
dpkg-deb -e "$deb" control
for s in postinst prerm postrm; do
    check "control: $s is executable" test -x "control/$s"
    check "control: $s is valid sh" sh -n "control/$s"
    check_not "control: $s has no unsubstituted @VARIABLE@" \
        grep -q '@[A-Za-z_][A-Za-z0-9_]*@' "control/$s"
done

# ---- cmake --install at another prefix ------------------------------------------------------
# The units name the binary where this installation puts it: at install time, not configure time.
if [ -f "$build_under_test/cmake_install.cmake" ]; then
    cmake --install "$build_under_test" --prefix "$T/prefix" >install.out 2>&1 ||
        { fail "cmake --install --prefix $T/prefix failed:"; sed 's/^/    /' install.out >&2; }
    check "--prefix: binary at PREFIX/bin/ccs" test -x "$T/prefix/bin/ccs"
    expect_contains "$T/prefix/lib/systemd/system/ccs-renew.service" \
        "ExecStart=$T/prefix/bin/ccs renew" \
        "--prefix: the unit's ExecStart is at the prefix"
    # DESTDIR is where files go, the prefix where they will run: the unit names the prefix only.
    DESTDIR=$T/dest cmake --install "$build_under_test" --prefix /opt/ccs >install2.out 2>&1 ||
        { fail "DESTDIR=... cmake --install failed:"; sed 's/^/    /' install2.out >&2; }
    expect_contains "$T/dest/opt/ccs/lib/systemd/system/ccs-renew.service" \
        "ExecStart=/opt/ccs/bin/ccs renew" \
        "DESTDIR + --prefix: ExecStart=/opt/ccs/bin/ccs, without DESTDIR"
else
    fail "no cmake_install.cmake in $build_under_test (the build directory of \$CCS)"
fi

# ---- install and remove: root only ---------------------------------------------------------
if [ "$(id -u)" != 0 ]; then
    echo "$checks checks passed, $failures failed"
    [ "$failures" -eq 0 ] || exit 1
    echo "SKIP: installing and removing the package not tested: dpkg -i needs root (it writes /usr,"
    echo "      /var/lib/dpkg and creates the ccs user); run as root, as CI does, to test them"
    exit 77
fi

# One run at a time on a machine (several build trees' CTest runs may reach this part at once):
# the package, the user and the directories are the machine's, not this run's.
exec 9>/tmp/ccs-e2e-package.lock
if ! flock -w 600 9; then
    fail "another run of test_package.sh held /tmp/ccs-e2e-package.lock for 10 minutes"
    finish
fi
# The machine must not have any of it already: we would take it over and then delete it.
present=
dpkg_status() { dpkg-query -W -f='${Status}' ccs 2>/dev/null || echo absent; }
dpkg_knows_ccs() { case $(dpkg_status) in absent | "unknown ok not-installed") return 1 ;; esac; }
! dpkg_knows_ccs || present="$present package-ccs"
getent passwd ccs >/dev/null && present="$present user-ccs"
getent group ccs >/dev/null && present="$present group-ccs"
for p in /usr/bin/ccs /var/lib/ccs /etc/ccs /usr/lib/systemd/system/ccs-renew.service; do
    [ ! -e "$p" ] || present="$present $p"
done
if [ -n "$present" ]; then
    fail "already on this machine:$present — remove them (dpkg --purge ccs) to run this test"
    finish
fi
# From here on, whatever happens, the machine is put back as it was.
restore() {
    ! dpkg_knows_ccs || dpkg --purge ccs >/dev/null 2>&1 || true
    ! getent passwd ccs >/dev/null || userdel ccs || true
    ! getent group ccs >/dev/null || groupdel ccs || true
    rm -rf /var/lib/ccs /etc/ccs
}
trap 'restore' EXIT
trap 'exit 1' INT TERM

mode_owner() { stat -c '%a %U:%G' "$1"; }

run_cmd 0 dpkg-i.out dpkg -i "$deb"
expect_eq "$(dpkg_status)" "install ok installed" "dpkg -i: installed"
run_cmd 0 version.out /usr/bin/ccs --version
expect_eq "$(cat version.out)" "ccs $version" "installed ccs --version prints the package version"
for page in "$top"/man/*.[15]; do
    name=$(basename "$page")
    [ -f "/usr/share/man/man${name##*.}/$name" ] || fail "installed: no man page $name"
done
ok "installed: every man page"
# systemd's own check of every installed unit (ExecStart must name an executable, among others;
# the man pages of Documentation= are checked in the package's contents above).
installed_units=
for unit in "$top"/systemd/*.service "$top"/systemd/*.timer; do
    installed_units="$installed_units /usr/lib/systemd/system/$(basename "$unit")"
done
# shellcheck disable=SC2086
run_cmd 0 verify.out systemd-analyze verify --man=no $installed_units

# The ccs user and group, the state and configuration directories.
IFS=: read -r _ _ uid gid _ home shell <<EOF
$(getent passwd ccs)
EOF
check "ccs is a system user (uid $uid < 1000)" test "$uid" -lt 1000
expect_eq "$(getent group ccs | cut -d: -f3)" "$gid" "the ccs group is ccs's primary group"
expect_eq "$home" /var/lib/ccs "ccs's home is the state directory"
expect_eq "$shell" /usr/sbin/nologin "ccs has no login shell"
expect_eq "$(mode_owner /var/lib/ccs)" "700 ccs:ccs" "/var/lib/ccs: 0700, owned by ccs"
expect_eq "$(mode_owner /etc/ccs)" "755 root:root" "/etc/ccs: 0755 root"

# config check on the example, from the installed paths. As shipped, it names secret files and
# hooks next to it that do not exist: exactly these errors, each with its line and resolved path.
example=/usr/share/doc/ccs/ccs.conf.example
: >check-expected
for named in "password-file secrets/iis-store.password" "pfx-password-file secrets/pfx.password" \
    "program hooks/reload-web.sh" "hook hooks/dns-01.sh" \
    "pfx-password-file secrets/export-pfx.password"; do
    key=${named% *} rel=${named#* }
    line=$(grep -n "^$key = $rel\$" "$example" | cut -d: -f1)
    echo "$example:$line: $key \"/usr/share/doc/ccs/$rel\": does not exist" >>check-expected
done
echo "ccs: 5 errors in the configuration" >>check-expected
run_cmd 1 check-example.out /usr/bin/ccs config check --config "$example"
if cmp -s check-expected check-example.out; then
    ok "config check on the shipped example: exactly the 5 missing files"
else
    fail "config check on the shipped example: unexpected output:"
    diff check-expected check-example.out | sed 's/^/    /' >&2
fi
# Installed as the README says, /etc/ccs/ccs.conf with the files it names (secrets 0600, hooks
# executable): the default configuration checks clean.
install -m 0644 "$example" /etc/ccs/ccs.conf
install -d -m 0700 /etc/ccs/secrets
install -d -m 0755 /etc/ccs/hooks
for f in iis-store.password pfx.password export-pfx.password; do
    (umask 077 && echo "example-secret-$f" >"/etc/ccs/secrets/$f")
done
printf '#!/bin/sh\nexit 0\n' >/etc/ccs/hooks/reload-web.sh
printf '#!/bin/sh\nexit 0\n' >/etc/ccs/hooks/dns-01.sh
chmod 0755 /etc/ccs/hooks/*.sh
run_cmd 0 check-etc.out /usr/bin/ccs config check
expect_not_contains check-etc.out "error" "config check of /etc/ccs/ccs.conf: no error"

# Again (a reinstall runs postinst again): the user and the state are kept.
echo "state" >/var/lib/ccs/sentinel
run_cmd 0 dpkg-i2.out dpkg -i "$deb"
expect_eq "$(id -u ccs)" "$uid" "reinstall: the same ccs user"
expect_eq "$(mode_owner /var/lib/ccs)" "700 ccs:ccs" "reinstall: /var/lib/ccs unchanged"
check "reinstall: the state kept" test -f /var/lib/ccs/sentinel

# remove: the program goes, the user, state and configuration stay.
run_cmd 0 dpkg-r.out dpkg -r ccs
expect_eq "$(dpkg_status)" "deinstall ok config-files" "dpkg -r: removed, not purged"
check_not "dpkg -r: /usr/bin/ccs gone" test -e /usr/bin/ccs
check_not "dpkg -r: units gone" test -e /usr/lib/systemd/system/ccs-renew.service
check "dpkg -r: the ccs user kept" getent passwd ccs
check "dpkg -r: the state kept" test -f /var/lib/ccs/sentinel

# purge: what postinst made goes; the administrator's files in /etc/ccs stay, and it says so.
run_cmd 0 purge.out dpkg --purge ccs
expect_contains purge.out "/etc/ccs not removed" "purge: says /etc/ccs is kept"
check "purge: the administrator's ccs.conf kept" test -f /etc/ccs/ccs.conf
check_not "purge: /var/lib/ccs removed" test -e /var/lib/ccs
check_not "purge: the ccs user removed" getent passwd ccs
check_not "purge: the ccs group removed" getent group ccs
rm -rf /etc/ccs

# The README's way: apt installs the file (and would fetch missing dependencies), and a
# purge of a package never configured by hand leaves nothing at all.
run_cmd 0 apt.out env -C "$T/out" DEBIAN_FRONTEND=noninteractive \
    apt-get install -y "./$(basename "$deb")"
expect_eq "$(dpkg_status)" "install ok installed" "apt install ./ccs_*.deb: installed"
run_cmd 0 apt-version.out ccs --version
run_cmd 0 purge2.out dpkg --purge ccs
for p in /usr/bin/ccs /var/lib/ccs /etc/ccs /usr/lib/systemd/system/ccs-renew.service \
    /usr/share/man/man1/ccs.1 /usr/share/doc/ccs; do
    check_not "after purge: no $p" test -e "$p"
done
check_not "after purge: no ccs user" getent passwd ccs
check_not "after purge: no ccs group" getent group ccs
check_not "after purge: dpkg has no ccs" dpkg_knows_ccs

finish
