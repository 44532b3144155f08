# End-to-end tests: the real binary, driven from Python (tests/e2e/*.py, unittest).
set(_e2e ${CMAKE_CURRENT_LIST_DIR})
nodealloc_py_test(e2e-review-handling ${_e2e}/test_review_handling.py LABELS e2e TIMEOUT 900)
nodealloc_py_test(e2e-review-requests ${_e2e}/test_review_requests.py LABELS e2e TIMEOUT 900)
nodealloc_py_test(e2e-review-fit ${_e2e}/test_review_fit.py LABELS e2e TIMEOUT 900)
nodealloc_py_test(e2e-review-existing ${_e2e}/test_review_existing.py LABELS e2e TIMEOUT 900)
nodealloc_py_test(e2e-review-answer ${_e2e}/test_review_answer.py LABELS e2e TIMEOUT 900)
nodealloc_py_test(e2e-cli ${_e2e}/test_cli.py LABELS e2e TIMEOUT 900)
nodealloc_py_test(e2e-corpus ${_e2e}/test_corpus.py LABELS e2e TIMEOUT 900)
