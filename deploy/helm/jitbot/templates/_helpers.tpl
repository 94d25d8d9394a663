{{/* Labels on every object. */}}
{{- define "jitbot.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}

{{/* Labels that select the bot's pods; never change them on a running release. */}}
{{- define "jitbot.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The Secret holding the tokens and REDIS_URL: secret.name, else one per release. */}}
{{- define "jitbot.secretName" -}}
{{ .Values.secret.name | default .Release.Name }}
{{- end }}

{{/* The bot's ServiceAccount: serviceAccount.name, else one per release. */}}
{{- define "jitbot.serviceAccountName" -}}
{{ .Values.serviceAccount.name | default .Release.Name }}
{{- end }}
