# Training: trainable networks against the adapter loader (round trip through the saved file), the model-level
# gradient against finite differences, and `lorastack::train` end to end on the tiny refsuite model.
ls_test(NAME test_train
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/train/test_network.cpp ${CMAKE_CURRENT_SOURCE_DIR}/train/test_trainer.cpp
          ${CMAKE_CURRENT_SOURCE_DIR}/train/test_trained_effect.cpp ${CMAKE_CURRENT_SOURCE_DIR}/train/test_grad_reference.cpp
  MODULES train pipeline)
