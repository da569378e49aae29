{{/* The release's name for its objects, at most 63 characters. */}}
{{- define "slipway.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "slipway.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: slipway
slipway.dev/release: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* The server's pods. */}}
{{- define "slipway.serverSelector" -}}
app.kubernetes.io/name: slipway
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end -}}

{{- define "slipway.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "slipway.secretName" -}}
{{- if .Values.secrets.existingSecret -}}
{{- .Values.secrets.existingSecret -}}
{{- else if .Values.secrets.create -}}
{{- include "slipway.fullname" . -}}
{{- end -}}
{{- end -}}

{{/* An environment variable from a key of the credentials Secret, absent
     when the key is. */}}
{{- define "slipway.secretEnv" -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: {{ .key }}
      optional: {{ .optional }}
{{- end -}}

{{/* The rules no values may break; each fails the install saying why. */}}
{{- define "slipway.check" -}}
{{- if and (gt (int .Values.server.replicas) 1) (ne .Values.store.type "postgresql") -}}
{{- fail "server.replicas > 1 needs store.type=postgresql: replicas share one metadata store" -}}
{{- end -}}
{{- if and (gt (int .Values.server.replicas) 1) (ne .Values.artifacts.type "s3") -}}
{{- fail "server.replicas > 1 needs artifacts.type=s3: replicas share one bucket" -}}
{{- end -}}
{{- if and (gt (int .Values.server.replicas) 1) .Values.persistence.enabled -}}
{{- fail "server.replicas > 1: set persistence.enabled=false (each replica keeps its caches in an emptyDir; see docs/kubernetes.md for what is not shared yet)" -}}
{{- end -}}
{{- if not (has .Values.store.type (list "sqlite" "postgresql")) -}}
{{- fail (printf "store.type: %q is neither sqlite nor postgresql" .Values.store.type) -}}
{{- end -}}
{{- if not (has .Values.artifacts.type (list "local" "s3")) -}}
{{- fail (printf "artifacts.type: %q is neither local nor s3" .Values.artifacts.type) -}}
{{- end -}}
{{- if and (eq .Values.artifacts.type "s3") (not (hasPrefix "s3://" .Values.artifacts.s3.uri)) -}}
{{- fail "artifacts.type=s3 needs artifacts.s3.uri: s3://BUCKET/PREFIX" -}}
{{- end -}}
{{- if and (eq .Values.store.type "postgresql") (not (include "slipway.secretName" .)) -}}
{{- fail "store.type=postgresql needs the URI in a Secret: secrets.existingSecret (key store-uri), or secrets.create with secrets.storeUri" -}}
{{- end -}}
{{- if and .Values.secrets.create (eq .Values.store.type "postgresql") (not .Values.secrets.storeUri) (not .Values.secrets.existingSecret) -}}
{{- fail "store.type=postgresql with secrets.create needs secrets.storeUri" -}}
{{- end -}}
{{- if and .Values.auth.enabled (not (include "slipway.secretName" .)) -}}
{{- fail "auth.enabled needs the first admin's password in a Secret (key admin-password)" -}}
{{- end -}}
{{- end -}}

{{/* The server's environment: credentials as references to the Secret's
     keys, never as values. */}}
{{- define "slipway.serverEnv" -}}
{{- $secret := include "slipway.secretName" . -}}
{{- if $secret }}
{{ include "slipway.secretEnv" (dict "env" "SLIPWAY_STORE_URI" "secret" $secret "key" "store-uri" "optional" (ne .Values.store.type "postgresql")) }}
{{ include "slipway.secretEnv" (dict "env" "PGPASSWORD" "secret" $secret "key" "pg-password" "optional" true) }}
{{ include "slipway.secretEnv" (dict "env" "AWS_ACCESS_KEY_ID" "secret" $secret "key" "aws-access-key-id" "optional" true) }}
{{ include "slipway.secretEnv" (dict "env" "AWS_SECRET_ACCESS_KEY" "secret" $secret "key" "aws-secret-access-key" "optional" true) }}
{{ include "slipway.secretEnv" (dict "env" "SLIPWAY_ADMIN_PASSWORD" "secret" $secret "key" "admin-password" "optional" (not .Values.auth.enabled)) }}
{{- end }}
{{- if .Values.auth.enabled }}
- name: SLIPWAY_ADMIN_USERNAME
  value: {{ .Values.auth.adminUsername | quote }}
{{- end }}
{{- with .Values.artifacts.s3.region }}
- name: AWS_REGION
  value: {{ . | quote }}
{{- end }}
{{- with .Values.server.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}
