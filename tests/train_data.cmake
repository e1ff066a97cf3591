# Training data: kohya folders, buckets (against kohya-ss's own code: train_data/make_kohya_reference.py),
# captions, batches, latent cache. The data side of src/train (data*, bucket*, captions*) is compiled into
# this test directly, so it links only the modules it uses, not the trainer's model stack.
file(GLOB train_data_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/train/data*.cpp
     ${PROJECT_SOURCE_DIR}/src/train/bucket*.cpp ${PROJECT_SOURCE_DIR}/src/train/captions*.cpp)
ls_test(NAME test_train_data
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/train_data/test_bucket.cpp ${CMAKE_CURRENT_SOURCE_DIR}/train_data/test_captions.cpp
          ${CMAKE_CURRENT_SOURCE_DIR}/train_data/test_dataset.cpp ${CMAKE_CURRENT_SOURCE_DIR}/train_data/test_latent_cache.cpp
          ${train_data_sources}
  MODULES runtime io image text)
target_link_libraries(test_train_data PRIVATE nlohmann_json::nlohmann_json)
