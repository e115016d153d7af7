# Run at build time (not configure time) so `t2 --version` names the commit actually built.
# Writes OUT only when the text changes, so an unchanged sha triggers no rebuild.
execute_process(COMMAND git -C ${SRC} describe --always --dirty --abbrev=12
                OUTPUT_VARIABLE sha OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT sha)
  set(sha unknown)
endif()
set(text "#include \"core/version.h\"\n\nnamespace t2 {\nconst char* version() { return \"${VERSION}\"; }\nconst char* git_sha() { return \"${sha}\"; }\n}  // namespace t2\n")
if(EXISTS ${OUT})
  file(READ ${OUT} old)
endif()
if(NOT "${old}" STREQUAL "${text}")
  file(WRITE ${OUT} "${text}")
endif()
