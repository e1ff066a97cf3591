# image: codecs (PNG / JPEG / WebP, A1111 metadata, EXIF), resampling; fixtures from tests/image/make_reference.py.
ls_test(NAME test_image
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/image/test_codecs.cpp ${CMAKE_CURRENT_SOURCE_DIR}/image/test_resize.cpp
  MODULES image)
target_link_libraries(test_image PRIVATE nlohmann_json::nlohmann_json)
