set(NODEALLOC_SERVER_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/asio_impl.cpp
  ${CMAKE_CURRENT_LIST_DIR}/config.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cpus.cpp
  ${CMAKE_CURRENT_LIST_DIR}/https_session.cpp
  ${CMAKE_CURRENT_LIST_DIR}/listener.cpp
  ${CMAKE_CURRENT_LIST_DIR}/logging.cpp
  ${CMAKE_CURRENT_LIST_DIR}/metrics.cpp
  ${CMAKE_CURRENT_LIST_DIR}/metrics_server.cpp
  ${CMAKE_CURRENT_LIST_DIR}/policy_store.cpp
  ${CMAKE_CURRENT_LIST_DIR}/reloader.cpp
  ${CMAKE_CURRENT_LIST_DIR}/routes.cpp
  ${CMAKE_CURRENT_LIST_DIR}/serve.cpp
  ${CMAKE_CURRENT_LIST_DIR}/server.cpp
  ${CMAKE_CURRENT_LIST_DIR}/tls_context.cpp
  ${CMAKE_CURRENT_LIST_DIR}/tls_stream.cpp
)
# Asio and Beast are compiled once (asio_impl.cpp) instead of in every file: faster builds.
set_source_files_properties(${NODEALLOC_SERVER_SOURCES} PROPERTIES
  COMPILE_DEFINITIONS "BOOST_ASIO_SEPARATE_COMPILATION;BOOST_BEAST_SEPARATE_COMPILATION;BOOST_ASIO_NO_DEPRECATED")
# GCC warns (-Wtsan) that Asio's std::atomic_thread_fence is invisible to ThreadSanitizer; Asio's
# fences only back up mutexes TSan does see, so the warning must not fail a -Werror build.
if(NODEALLOC_SANITIZE MATCHES "thread" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  set_source_files_properties(${NODEALLOC_SERVER_SOURCES} PROPERTIES COMPILE_OPTIONS "-Wno-tsan")
endif()
