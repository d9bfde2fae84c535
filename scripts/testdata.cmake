# Test data made by the repo's own scripts at build time: a SentencePiece tokenizer trained
# with spm_train on a generated corpus, and random-weight Needle models. Nothing downloaded.
set(_tok_dir ${NEEDLE_TESTDATA_DIR}/tokenizer)
set(_scripts ${CMAKE_CURRENT_SOURCE_DIR}/scripts)
set(_outputs)

if(EXISTS ${_scripts}/make_tokenizer.py)
  add_custom_command(
    OUTPUT ${_tok_dir}/needle_spm.model ${_tok_dir}/vocab.txt
    COMMAND ${NEEDLE_PYTHON} ${_scripts}/make_tokenizer.py --out ${_tok_dir}
    DEPENDS ${_scripts}/make_tokenizer.py
    COMMENT "Training the test SentencePiece tokenizer"
    VERBATIM)
  list(APPEND _outputs ${_tok_dir}/needle_spm.model ${_tok_dir}/vocab.txt)
endif()

# name | make_model.py arguments ("full" has the published layout: BF16 embedding, F32 norms)
set(NEEDLE_TEST_MODELS
  "tiny|--preset tiny --seed 1"
  "tiny_bf16|--preset tiny --seed 2 --float-dtype bf16"
  "tiny_f16|--preset tiny --seed 3 --float-dtype f16"
  "tiny_ffn|--preset tiny --seed 4 --ffn"
  "tiny_retrieval|--preset tiny --seed 5 --retrieval-head"
  "tiny_floatproj|--preset tiny --seed 6 --float-proj"
  "tiny_dec16|--preset tiny --seed 1 --meta max_dec_len=16"
  "full|--preset full --seed 7 --embedding-dtype bf16")
if(EXISTS ${_scripts}/make_model.py)
  foreach(entry ${NEEDLE_TEST_MODELS})
    string(REPLACE "|" ";" parts "${entry}")
    list(GET parts 0 model_name)
    list(GET parts 1 model_args)
    separate_arguments(model_args UNIX_COMMAND "${model_args}")
    add_custom_command(
      OUTPUT ${NEEDLE_TESTDATA_DIR}/${model_name}.safetensors
      COMMAND ${NEEDLE_PYTHON} ${_scripts}/make_model.py ${model_args}
              --out ${NEEDLE_TESTDATA_DIR}/${model_name}.safetensors
      DEPENDS ${_scripts}/make_model.py
      COMMENT "Making random-weight model ${model_name}"
      VERBATIM)
    list(APPEND _outputs ${NEEDLE_TESTDATA_DIR}/${model_name}.safetensors)
  endforeach()
endif()


# Expected outputs of the independent float64 NumPy reference (scripts/reference.py) on the
# tiny models: encoder output, teacher-forced greedy logits, retrieval embedding.
set(NEEDLE_REFERENCE_IDS "7,300,1200,45,8000,5,4000,17,2222,999,3,6,261,88,4096,1500")
if(EXISTS ${_scripts}/reference.py AND EXISTS ${_scripts}/make_model.py)
  foreach(model_name tiny tiny_bf16 tiny_f16 tiny_ffn tiny_retrieval tiny_floatproj)
    add_custom_command(
      OUTPUT ${NEEDLE_TESTDATA_DIR}/${model_name}.ref.json
      COMMAND ${NEEDLE_PYTHON} ${_scripts}/reference.py dump
              --weights ${NEEDLE_TESTDATA_DIR}/${model_name}.safetensors
              --enc-ids ${NEEDLE_REFERENCE_IDS} --steps 12
              --out ${NEEDLE_TESTDATA_DIR}/${model_name}.ref.json
      DEPENDS ${_scripts}/reference.py ${NEEDLE_TESTDATA_DIR}/${model_name}.safetensors
      COMMENT "Reference outputs for ${model_name}"
      VERBATIM)
    list(APPEND _outputs ${NEEDLE_TESTDATA_DIR}/${model_name}.ref.json)
  endforeach()
endif()

add_custom_target(needle_testdata ALL DEPENDS ${_outputs})
