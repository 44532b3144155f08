{{/* Chart name, truncated to the 63 characters a label allows. */}}
{{- define "argo-node-allocator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the release name when it already contains the chart name (the usual
     `helm install argo-node-allocator ...`), so resource names match manifests/. */}}
{{- define "argo-node-allocator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "argo-node-allocator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: immutable in a Deployment, so nothing version-dependent. */}}
{{- define "argo-node-allocator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "argo-node-allocator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "argo-node-allocator.labels" -}}
helm.sh/chart: {{ include "argo-node-allocator.chart" . }}
{{ include "argo-node-allocator.selectorLabels" . }}
app.kubernetes.io/component: webhook
app.kubernetes.io/part-of: argo-node-allocator
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "argo-node-allocator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "argo-node-allocator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "argo-node-allocator.policyConfigMap" -}}
{{- default (printf "%s-policy" (include "argo-node-allocator.fullname" .)) .Values.existingPolicyConfigMap }}
{{- end }}

{{- define "argo-node-allocator.tlsSecretName" -}}
{{- if eq .Values.certificate.mode "existingSecret" }}
{{- required "certificate.existingSecret.name is required when certificate.mode is existingSecret" .Values.certificate.existingSecret.name }}
{{- else }}
{{- printf "%s-tls" (include "argo-node-allocator.fullname" .) }}
{{- end }}
{{- end }}

{{- define "argo-node-allocator.certificateName" -}}
{{- printf "%s-serving" (include "argo-node-allocator.fullname" .) }}
{{- end }}

{{- define "argo-node-allocator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The Service's DNS names, as the certificate must list them. */}}
{{- define "argo-node-allocator.dnsNames" -}}
{{- $svc := include "argo-node-allocator.fullname" . -}}
- {{ $svc }}
- {{ $svc }}.{{ .Release.Namespace }}
- {{ $svc }}.{{ .Release.Namespace }}.svc
- {{ $svc }}.{{ .Release.Namespace }}.svc.cluster.local
{{- end }}
