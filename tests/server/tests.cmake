# The HTTPS server's end-to-end tests: the real binary, real TLS, random ports on 127.0.0.1.
foreach(t admission errors reload shutdown mtls metrics flags)
  nodealloc_py_test(server_${t} ${CMAKE_CURRENT_LIST_DIR}/test_${t}.py LABELS server TIMEOUT 120)
endforeach()
