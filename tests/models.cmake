ls_test(NAME test_models SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/models/test_models.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/models/test_pixel_vae.cpp MODULES runtime io models)
