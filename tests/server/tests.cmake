# The HTTPS server's end-to-end tests: the real binary, real TLS, random ports on 127.0.0.1.
foreach(t admission errors reload shutdown mtls metrics flags)
  nodealloc_py_test(server_${t} ${CMAKE_CURRENT_LIST_DIR}/test_${t}.py LABELS server TIMEOUT 120)
endforeach()

# The server's TLS stream against Asio's TLS client over real loopback sockets, the worker
# count read from the affinity mask and cgroup files, and the workers' body buffer pools
# (doctest).
add_executable(server-unit-tests ${CMAKE_CURRENT_LIST_DIR}/tls_stream_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cpus_test.cpp ${CMAKE_CURRENT_LIST_DIR}/body_buffers_test.cpp)
target_link_libraries(server-unit-tests PRIVATE nodealloc_server doctest::doctest)
target_include_directories(server-unit-tests PRIVATE ${PROJECT_SOURCE_DIR}/webhook)
# As the server's own sources (webhook/server/sources.cmake): Asio and Beast come compiled.
target_compile_definitions(server-unit-tests PRIVATE
  BOOST_ASIO_SEPARATE_COMPILATION BOOST_BEAST_SEPARATE_COMPILATION BOOST_ASIO_NO_DEPRECATED)
add_test(NAME server_unit COMMAND server-unit-tests)
set_tests_properties(server_unit PROPERTIES LABELS server TIMEOUT 120)
# As the server's sources under ThreadSanitizer (webhook/server/sources.cmake): Asio's fences.
if(NODEALLOC_SANITIZE MATCHES "thread" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(server-unit-tests PRIVATE -Wno-tsan)
endif()
