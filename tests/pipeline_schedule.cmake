# A1111 prompt editing / alternation through the Engine, every sampler (src/pipeline/engine.cpp, text/prompt_schedule.h)
ls_test(NAME test_prompt_schedule_engine SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/test_prompt_schedule_engine.cpp
        MODULES pipeline)
