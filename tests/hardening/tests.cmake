# Hardening (issue 5, docs/security.md): hostile input and TLS settings against the real binary
# (label "server" too, so `make test-tsan` runs them), and a 30 s soak (`make soak` runs 300 s).
nodealloc_py_test(hardening_hostile ${CMAKE_CURRENT_LIST_DIR}/test_hostile.py
                  LABELS "server;hardening" TIMEOUT 300)
