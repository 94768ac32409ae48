{{/* Names and labels shared by every template. */}}
{{- define "hexabot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hexabot.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "hexabot.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "hexabot.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "hexabot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hexabot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "hexabot.labels" -}}
{{ include "hexabot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "hexabot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "hexabot.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The static directory, with the pod's ServiceAccount as the bot unless one is given. */}}
{{- define "hexabot.directory" -}}
{{- $dir := deepCopy .Values.directory -}}
{{- if not (hasKey $dir "bot") -}}
{{- $_ := set $dir "bot" (dict "in_cluster" true) -}}
{{- end -}}
{{- toYaml $dir -}}
{{- end -}}

{{- define "hexabot.hasConfig" -}}
{{- if or .Values.directory .Values.workflows .Values.policy -}}true{{- end -}}
{{- end -}}
