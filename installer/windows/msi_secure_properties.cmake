# Adds the public properties of unattended installs (LISTEN, CONFIG, FIREWALL; reachmon.wxs) to
# the SecureCustomProperties of an MSI that wixl built:
#   cmake -DMSI=reachmon-x.y.z-x64.msi -P msi_secure_properties.cmake
# msiexec passes public properties from an unelevated client (an install with a UI, elevated by
# UAC when it executes) to the elevated server only if they are listed there ("Ignoring
# disallowed property" in the log otherwise). The WiX Toolset lists them from Property/@Secure;
# wixl 0.101 ignores that attribute and writes SecureCustomProperties itself (the Upgrade rows'
# properties), so an authored one would be a duplicate row: hence this step, with msitools.
cmake_minimum_required(VERSION 3.20)
set(secure LISTEN CONFIG FIREWALL)
if(NOT MSI)
  message(FATAL_ERROR "msi_secure_properties.cmake: -DMSI=FILE is required")
endif()
find_program(MSIINFO msiinfo)
find_program(MSIBUILD msibuild)
if(NOT MSIINFO OR NOT MSIBUILD)
  message(FATAL_ERROR "msi_secure_properties.cmake: msiinfo and msibuild (Debian package "
                      "msitools, scripts/setup) are needed after wixl")
endif()
execute_process(COMMAND ${MSIINFO} export ${MSI} Property OUTPUT_VARIABLE table
                RESULT_VARIABLE failed)
if(failed)
  message(FATAL_ERROR "msi_secure_properties.cmake: msiinfo cannot read ${MSI}")
endif()
if(table MATCHES "\nSecureCustomProperties\t([^\r\n]*)")
  set(value "${CMAKE_MATCH_1}")
  set(query "UPDATE `Property` SET `Value` = '@value@' WHERE `Property` = 'SecureCustomProperties'")
else()
  set(value "")
  set(query "INSERT INTO `Property` (`Property`, `Value`) VALUES ('SecureCustomProperties', '@value@')")
endif()
foreach(name ${secure})  # the value, "A;B", is a CMake list
  if(NOT name IN_LIST value)
    list(APPEND value ${name})
  endif()
endforeach()
string(CONFIGURE "${query}" query @ONLY)
execute_process(COMMAND ${MSIBUILD} ${MSI} -q "${query}" RESULT_VARIABLE failed)
if(failed)
  message(FATAL_ERROR "msi_secure_properties.cmake: msibuild cannot update ${MSI}")
endif()
