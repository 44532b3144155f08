# Deployment artefacts: manifests/ (kustomize), charts/, certs/, Dockerfile. No cluster, no helm,
# no Docker, no network: kubectl (for `kubectl kustomize`) and go (for the chart renderer) are
# used when on PATH, and the tests that need them skip otherwise.
set(_deploy ${CMAKE_CURRENT_LIST_DIR})
nodealloc_py_test(deploy-manifests ${_deploy}/test_manifests.py LABELS deploy TIMEOUT 180)
nodealloc_py_test(deploy-chart ${_deploy}/test_chart.py LABELS deploy TIMEOUT 300)
nodealloc_py_test(deploy-certs ${_deploy}/test_certs.py LABELS deploy TIMEOUT 180)
nodealloc_py_test(deploy-dockerfile ${_deploy}/test_dockerfile.py LABELS deploy TIMEOUT 120)
