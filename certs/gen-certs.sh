#!/usr/bin/env bash
# gen-certs.sh: a private CA and a serving certificate for the argo-node-allocator webhook Service.
#
# Needs only bash and the openssl CLI (1.1.1 or 3.x). See certs/README.md for the whole story.
#
#   bash certs/gen-certs.sh --out certs/prod --service argo-node-allocator --namespace argo-node-allocator \
#       --secret-manifest certs/prod/secret.yaml --kustomize
#   kubectl apply -k certs/prod
#
# Files written into --out:
#   ca.crt ca.key        the CA (reused when both already exist, so the caBundle stays the same)
#   tls.crt tls.key      the serving certificate and its key (refused when present, unless --force)
#   ca-bundle.b64        base64 of ca.crt on one line: the webhook's clientConfig.caBundle
# Keys are written mode 0600. The caBundle is also printed on stdout (everything else goes to
# stderr), so CA_BUNDLE=$(bash certs/gen-certs.sh ...) works.
set -euo pipefail

prog=$(basename "$0")
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

out=""
service="argo-node-allocator"
namespace="argo-node-allocator"
days=365
ca_days=3650
key_type="rsa"
force=0
new_ca=0
quiet=0
secret_name=""
secret_manifest=""
webhook_name=""
kustomize=0
kustomize_base="${script_dir}/../manifests/base"
print_patch=0
extra_sans=()

usage() {
  cat <<EOF
Usage: $prog --out DIR [options]

Makes a CA and a serving certificate for the webhook Service, valid for
  <service>, <service>.<namespace>, <service>.<namespace>.svc, <service>.<namespace>.svc.cluster.local
plus any --extra-san.

Options:
  --out DIR               where to write the files (required; created mode 0700)
  --service NAME          the Service name (default: $service)
  --namespace NS          the Service namespace (default: $namespace)
  --extra-san NAME|IP     one more subject alternative name; an IPv4/IPv6 address becomes an IP SAN
                          (repeatable; e.g. --extra-san localhost --extra-san 127.0.0.1)
  --days N                validity of the serving certificate in days (default: $days)
  --ca-days N             validity of a new CA in days (default: $ca_days)
  --key-type rsa|ec       RSA 2048 or ECDSA P-256 keys (default: $key_type)
  --force                 replace an existing serving certificate (the CA is still reused)
  --new-ca                make a new CA even when ca.crt/ca.key exist (implies --force;
                          the caBundle changes: re-apply the webhook configuration)
  --secret-name NAME      name of the TLS Secret (default: <service>-tls)
  --secret-manifest FILE  also write a kubernetes.io/tls Secret manifest to FILE ("-" = stdout)
  --webhook-name NAME     name of the MutatingWebhookConfiguration (default: <service>)
  --kustomize             also write DIR/kustomization.yaml: an overlay on the base (--kustomize-base)
                          that replaces the placeholder Secret with these files and patches the
                          caBundle into the webhook; then: kubectl apply -k DIR
  --kustomize-base PATH   the base the overlay builds on (default: the repository's manifests/base)
  --print-patch           print (on stderr) the kubectl patch command that sets the caBundle
                          of an already installed webhook configuration
  --quiet                 no progress messages
  -h, --help              this text
EOF
}

die() { echo "$prog: $*" >&2; exit 2; }
say() { [ "$quiet" = 1 ] || echo "$prog: $*" >&2; }

need_arg() { [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --out) need_arg "$@"; out=$2; shift 2 ;;
    --service) need_arg "$@"; service=$2; shift 2 ;;
    --namespace) need_arg "$@"; namespace=$2; shift 2 ;;
    --extra-san) need_arg "$@"; extra_sans+=("$2"); shift 2 ;;
    --days) need_arg "$@"; days=$2; shift 2 ;;
    --ca-days) need_arg "$@"; ca_days=$2; shift 2 ;;
    --key-type) need_arg "$@"; key_type=$2; shift 2 ;;
    --force) force=1; shift ;;
    --new-ca) new_ca=1; force=1; shift ;;
    --secret-name) need_arg "$@"; secret_name=$2; shift 2 ;;
    --secret-manifest) need_arg "$@"; secret_manifest=$2; shift 2 ;;
    --webhook-name) need_arg "$@"; webhook_name=$2; shift 2 ;;
    --kustomize) kustomize=1; shift ;;
    --kustomize-base) need_arg "$@"; kustomize_base=$2; shift 2 ;;
    --print-patch) print_patch=1; shift ;;
    --quiet) quiet=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}" ;;   # accept --flag=value too
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

[ -n "$out" ] || { usage >&2; die "--out DIR is required"; }
command -v openssl >/dev/null || die "the openssl command is needed (apt-get install openssl)"

dns_label='^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$'
[[ "$service" =~ $dns_label ]] || die "--service \"$service\" is not a DNS label"
[[ "$namespace" =~ $dns_label ]] || die "--namespace \"$namespace\" is not a DNS label"
[[ "$days" =~ ^[1-9][0-9]*$ ]] || die "--days must be a positive integer"
[[ "$ca_days" =~ ^[1-9][0-9]*$ ]] || die "--ca-days must be a positive integer"
case "$key_type" in rsa|ec) ;; *) die "--key-type must be rsa or ec" ;; esac
secret_name=${secret_name:-${service}-tls}
webhook_name=${webhook_name:-${service}}

is_ip() {
  [[ "$1" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || [[ "$1" == *:* ]]
}

sans=("DNS:${service}" "DNS:${service}.${namespace}" "DNS:${service}.${namespace}.svc"
      "DNS:${service}.${namespace}.svc.cluster.local")
for san in "${extra_sans[@]+"${extra_sans[@]}"}"; do
  if is_ip "$san"; then sans+=("IP:${san}"); else sans+=("DNS:${san}"); fi
done
san_line=$(IFS=,; echo "${sans[*]}")

umask 077
mkdir -p "$out"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gen-certs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

new_key() {  # new_key FILE
  if [ "$key_type" = rsa ]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null
  else
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
  fi
  chmod 0600 "$1"
}

serial() { openssl rand -hex 16; }

# --- the CA: reused when present, so an installed caBundle stays valid --------------------------
if [ "$new_ca" = 0 ] && [ -s "$out/ca.crt" ] && [ -s "$out/ca.key" ]; then
  openssl x509 -in "$out/ca.crt" -noout 2>/dev/null || die "$out/ca.crt is not a certificate"
  if ! openssl x509 -in "$out/ca.crt" -noout -checkend 86400 >/dev/null; then
    die "the CA in $out/ca.crt expires within a day; run again with --new-ca"
  fi
  say "reusing the CA in $out/ca.crt"
else
  say "making a new CA (valid $ca_days days)"
  new_key "$tmp/ca.key"
  cat >"$tmp/ca.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
x509_extensions = v3_ca
[dn]
CN = ${service}-ca
O = argo-node-allocator
[v3_ca]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
  openssl req -x509 -new -key "$tmp/ca.key" -sha256 -days "$ca_days" -set_serial "0x$(serial)" \
    -config "$tmp/ca.cnf" -out "$tmp/ca.crt"
  mv -f "$tmp/ca.key" "$out/ca.key"
  mv -f "$tmp/ca.crt" "$out/ca.crt"
  chmod 0600 "$out/ca.key"
  chmod 0644 "$out/ca.crt"
  force=1   # a new CA makes any old serving certificate useless
fi

# --- the serving certificate --------------------------------------------------------------------
if [ -e "$out/tls.crt" ] || [ -e "$out/tls.key" ]; then
  if [ "$force" = 0 ]; then
    die "$out/tls.crt already exists; --force replaces it (the CA is kept), --new-ca replaces both"
  fi
fi

say "making the serving certificate for ${service}.${namespace}.svc (valid $days days)"
new_key "$tmp/tls.key"
cat >"$tmp/tls.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = ${service}.${namespace}.svc
O = argo-node-allocator
[v3_leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
subjectAltName = ${san_line}
EOF
openssl req -new -key "$tmp/tls.key" -config "$tmp/tls.cnf" -out "$tmp/tls.csr"
openssl x509 -req -in "$tmp/tls.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -sha256 \
  -set_serial "0x$(serial)" -days "$days" -extfile "$tmp/tls.cnf" -extensions v3_leaf \
  -out "$tmp/tls.crt" 2>/dev/null
openssl verify -CAfile "$out/ca.crt" "$tmp/tls.crt" >/dev/null || die "the new certificate does not verify"
mv -f "$tmp/tls.key" "$out/tls.key"
mv -f "$tmp/tls.crt" "$out/tls.crt"
chmod 0600 "$out/tls.key"
chmod 0644 "$out/tls.crt"

ca_bundle=$(openssl base64 -A -in "$out/ca.crt")
printf '%s\n' "$ca_bundle" >"$out/ca-bundle.b64"
chmod 0644 "$out/ca-bundle.b64"
say "wrote $out/ca.crt $out/ca.key $out/tls.crt $out/tls.key $out/ca-bundle.b64 (SANs: $san_line)"

b64() { openssl base64 -A -in "$1"; }

write_secret() {  # write_secret > FILE
  cat <<EOF
# The webhook's serving certificate, made by certs/gen-certs.sh. Holds a private key: do not commit.
apiVersion: v1
kind: Secret
metadata:
  name: ${secret_name}
  namespace: ${namespace}
  labels:
    app.kubernetes.io/name: argo-node-allocator
    app.kubernetes.io/component: webhook
type: kubernetes.io/tls
data:
  tls.crt: $(b64 "$out/tls.crt")
  tls.key: $(b64 "$out/tls.key")
  ca.crt: $(b64 "$out/ca.crt")
EOF
}

if [ -n "$secret_manifest" ]; then
  if [ "$secret_manifest" = - ]; then
    write_secret
  else
    write_secret >"$secret_manifest"
    chmod 0600 "$secret_manifest"
    say "wrote the Secret manifest $secret_manifest"
  fi
fi

if [ "$kustomize" = 1 ]; then
  [ -f "$kustomize_base/kustomization.yaml" ] || die "--kustomize-base $kustomize_base has no kustomization.yaml"
  out_abs=$(cd "$out" && pwd)
  base_abs=$(cd "$kustomize_base" && pwd)
  base_rel=$(realpath --relative-to="$out_abs" "$base_abs" 2>/dev/null || echo "$base_abs")
  cat >"$out/webhook-ca-bundle.yaml" <<EOF
# Sets the caBundle of the webhook to the CA in ca.crt (written by certs/gen-certs.sh).
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: ${webhook_name}
webhooks:
  - name: placement.node-allocator.io
    clientConfig:
      caBundle: ${ca_bundle}
EOF
  cat >"$out/kustomization.yaml" <<EOF
# Written by certs/gen-certs.sh: the base plus this directory's certificate.
#   kubectl apply -k $out
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ${base_rel}
secretGenerator:
  - name: ${secret_name}
    namespace: ${namespace}
    behavior: replace
    type: kubernetes.io/tls
    files:
      - tls.crt
      - tls.key
      - ca.crt
    options:
      disableNameSuffixHash: true
patches:
  - path: webhook-ca-bundle.yaml
EOF
  chmod 0644 "$out/kustomization.yaml" "$out/webhook-ca-bundle.yaml"
  say "wrote $out/kustomization.yaml (base: $base_rel); install with: kubectl apply -k $out"
fi

if [ "$print_patch" = 1 ]; then
  cat >&2 <<EOF
# Set the caBundle of an installed webhook configuration:
kubectl patch mutatingwebhookconfiguration ${webhook_name} --type=json \\
  -p '[{"op":"add","path":"/webhooks/0/clientConfig/caBundle","value":"${ca_bundle}"}]'
EOF
fi

printf '%s\n' "$ca_bundle"
