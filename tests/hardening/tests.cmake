# Hardening (issue 5, docs/security.md): hostile input and TLS settings against the real binary
# (label "server" too, so `make test-tsan` runs them), and a 30 s soak (`make soak` runs 300 s).
nodealloc_py_test(hardening_hostile ${CMAKE_CURRENT_LIST_DIR}/test_hostile.py
                  LABELS "server;hardening" TIMEOUT 300)
nodealloc_py_test(hardening_tls ${CMAKE_CURRENT_LIST_DIR}/test_tls.py
                  LABELS "server;hardening" TIMEOUT 120)
# 30 s of 256 connections: alone on the machine, so neither it nor the other tests time out.
nodealloc_py_test(hardening_soak ${CMAKE_CURRENT_LIST_DIR}/soak.py LABELS "soak" TIMEOUT 240)
set_tests_properties(hardening_soak PROPERTIES RUN_SERIAL TRUE)
