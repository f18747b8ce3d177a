# CcsPackage.cmake — the Debian package (CPack's DEB generator): `scripts/package` builds
# ccs_VERSION_ARCH.deb from a release build. It holds what `cmake --install` installs, at prefix
# /usr (the binary, the man pages, the systemd units, the example configuration), and maintainer
# scripts (packaging/debian/) that create the ccs system user and group, /var/lib/ccs and /etc/ccs.
#
# Included by CMakeLists.txt after the install rules; CCS_SYSTEMD_UNIT_NAMES must be set (the
# units the maintainer scripts stop on removal and clean up on purge).

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ccs)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "Centralized Certificate Store: ACME renewal into an IIS-style store of PFX files")
set(CPACK_PACKAGE_DESCRIPTION
    "ccs keeps TLS certificates for many servers in one shared folder: one PFX file per host name,
under one store-wide password, the layout IIS's Centralized Certificate Store reads. ccs renew
keeps the certificates declared in /etc/ccs/ccs.conf valid with any ACME CA and delivers them by
tasks; ccs store list, lookup and check show what a server will serve and why it would fail.")
set(CCS_PACKAGE_MAINTAINER "ccs maintainers <ccs-maintainers@localhost>"
    CACHE STRING "The Maintainer field of the Debian package")
set(CPACK_PACKAGE_CONTACT "${CCS_PACKAGE_MAINTAINER}")
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)

# ccs_VERSION_ARCH.deb (DEB-DEFAULT adds -REVISION only when CPACK_DEBIAN_PACKAGE_RELEASE is set).
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends: the libraries' packages, found by dpkg-shlibdeps (dpkg-dev) from the binary's NEEDED
# entries; plus adduser, which the maintainer scripts call (Debian policy 9.2.1 asks for it); plus
# libsmbclient, which ccs loads with dlopen() for SMB stores (src/store/smb_lib.h), so
# dpkg-shlibdeps cannot see it. 2:4.12.0 is the first version with every function ccs looks up
# (smbc_getFunctionReaddirPlus2, SMBCLIENT_0.6.0, by Debian's libsmbclient.symbols).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, libsmbclient (>= 2:4.12.0+dfsg)")

configure_file(${CMAKE_CURRENT_SOURCE_DIR}/packaging/debian/postinst.in
               ${CMAKE_CURRENT_BINARY_DIR}/packaging/debian/postinst @ONLY)
configure_file(${CMAKE_CURRENT_SOURCE_DIR}/packaging/debian/prerm.in
               ${CMAKE_CURRENT_BINARY_DIR}/packaging/debian/prerm @ONLY)
configure_file(${CMAKE_CURRENT_SOURCE_DIR}/packaging/debian/postrm.in
               ${CMAKE_CURRENT_BINARY_DIR}/packaging/debian/postrm @ONLY)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_BINARY_DIR}/packaging/debian/postinst
    ${CMAKE_CURRENT_BINARY_DIR}/packaging/debian/prerm
    ${CMAKE_CURRENT_BINARY_DIR}/packaging/debian/postrm)
# Maintainer scripts 0755, the control files 0644, whatever the source tree's modes.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
