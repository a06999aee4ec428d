{{/*
Names, labels and the pieces of pod spec that the API and the workers share.
*/}}

{{- define "profd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "profd.fullname" -}}
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

{{- define "profd.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "profd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels of one component: include "profd.selector" (list . "api") */}}
{{- define "profd.selector" -}}
{{- $top := index . 0 }}
app.kubernetes.io/name: {{ include "profd.name" $top }}
app.kubernetes.io/instance: {{ $top.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "profd.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "profd.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "profd.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* Environment both components take from secrets and the downward API. */}}
{{- define "profd.secretEnv" -}}
{{- if .Values.config.redis.existingSecret }}
- name: PROFD_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.config.redis.existingSecret }}
      key: {{ .Values.config.redis.existingSecretKey }}
{{- end }}
{{- if .Values.gcp.credentialsSecret }}
- name: GOOGLE_APPLICATION_CREDENTIALS
  value: /etc/profd/gcp/{{ .Values.gcp.credentialsKey }}
{{- end }}
{{- if .Values.config.kafka.configSecret }}
- name: PROFD_KAFKA_CONFIG
  value: /etc/profd/kafka/kafka.conf
{{- end }}
{{- with .Values.config.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Volumes both components mount: /tmp (read-only root), credentials. */}}
{{- define "profd.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.worker.spoolSizeLimit }}
{{- if .Values.gcp.credentialsSecret }}
- name: gcp
  secret:
    secretName: {{ .Values.gcp.credentialsSecret }}
{{- end }}
{{- if .Values.config.kafka.configSecret }}
- name: kafka
  secret:
    secretName: {{ .Values.config.kafka.configSecret }}
{{- end }}
{{- if .Values.config.redis.tlsSecret }}
- name: redis-tls
  secret:
    secretName: {{ .Values.config.redis.tlsSecret }}
{{- end }}
{{- end }}

{{- define "profd.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if .Values.gcp.credentialsSecret }}
- name: gcp
  mountPath: /etc/profd/gcp
  readOnly: true
{{- end }}
{{- if .Values.config.kafka.configSecret }}
- name: kafka
  mountPath: /etc/profd/kafka
  readOnly: true
{{- end }}
{{- if .Values.config.redis.tlsSecret }}
- name: redis-tls
  mountPath: /etc/profd/redis-tls
  readOnly: true
{{- end }}
{{- end }}
