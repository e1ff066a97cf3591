# tools/emoji: the emoji training-data builder and measurement tool (Node.js, node:test). The test builds
# every set with --limit 8 and checks layout, captions, image format, byte stability and the lighting
# luminance factor. It is skipped (exit 77) when tools/emoji/node_modules (npm ci --prefix tools/emoji,
# done by tools/install-deps.sh) or rsvg-convert (librsvg2-bin) is missing.
find_program(LS_NODE node)
if(LS_NODE)
  add_test(NAME emoji_data COMMAND ${LS_NODE} ${PROJECT_SOURCE_DIR}/tools/emoji/test/ctest.mjs)
  set_tests_properties(emoji_data PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS emoji)
else()
  message(STATUS "node not found: emoji_data test (tools/emoji) not registered")
endif()
