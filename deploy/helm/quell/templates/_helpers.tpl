{{- define "quell.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "quell.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* selector labels of one component: (dict "ctx" $ "component" "ingest") */}}
{{- define "quell.selector" -}}
app.kubernetes.io/name: {{ .ctx.Chart.Name }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "quell.secretName" -}}
{{- .Values.secrets.existingSecret | default (include "quell.fullname" .) -}}
{{- end -}}

{{/* the configuration file: the values' config with what the chart sets */}}
{{- define "quell.config" -}}
{{- $cfg := deepCopy .Values.config -}}
{{- if eq .Values.mode "split" -}}
{{- $_ := set $cfg "kafka" (merge (dict "brokers" .Values.split.kafka.brokers) (get $cfg "kafka" | default dict)) -}}
{{- if .Values.split.clickhouse.dsn -}}
{{- $_ := set $cfg "clickhouse" (merge (dict "dsn" .Values.split.clickhouse.dsn) (get $cfg "clickhouse" | default dict)) -}}
{{- end -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* the container of one stage: (dict "ctx" $ "command" "serve" "resources" ...) */}}
{{- define "quell.container" -}}
{{- $v := .ctx.Values -}}
- name: quell
  image: {{ printf "%s:%s" $v.image.repository $v.image.tag | quote }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  args:
    - {{ .command }}
    - --config=/etc/quell/quell.yaml
    - --data-dir=/var/lib/quell
    - --listen=:9095
    {{- if or $v.secrets.webhookTokens $v.secrets.existingSecret }}
    - --webhook-token-file=/etc/quell/webhook-tokens
    {{- end }}
    {{- if or $v.secrets.apiTokens $v.secrets.existingSecret }}
    - --api-token-file=/etc/quell/api-tokens
    {{- end }}
    {{- if eq .command "correlate" }}
    # A container that crashed restarts in its pod under the same name and
    # takes its partitions back at once, not after its old session.
    - --instance-id=$(POD_NAME)
    {{- end }}
  {{- if eq .command "correlate" }}
  env:
    - name: POD_NAME
      valueFrom:
        fieldRef: {fieldPath: metadata.name}
  {{- end }}
  ports:
    - name: http
      containerPort: 9095
      protocol: TCP
  startupProbe:
    httpGet: {path: /healthz, port: http}
    periodSeconds: 2
    failureThreshold: 60
  livenessProbe:
    httpGet: {path: /healthz, port: http}
    periodSeconds: 10
    timeoutSeconds: 3
  readinessProbe:
    httpGet: {path: /readyz, port: http}
    periodSeconds: 5
    timeoutSeconds: 3
  resources:
    {{- toYaml .resources | nindent 4 }}
  securityContext:
    {{- toYaml $v.securityContext | nindent 4 }}
  volumeMounts:
    - name: config
      mountPath: /etc/quell
      readOnly: true
    - name: data
      mountPath: /var/lib/quell
    - name: tmp
      mountPath: /tmp
{{- end -}}

{{/* what every pod spec shares */}}
{{- define "quell.podCommon" -}}
{{- $v := .Values -}}
{{- with $v.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $v.podSecurityContext | nindent 2 }}
terminationGracePeriodSeconds: 30
{{- with $v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "quell.configVolumes" -}}
- name: config
  secret:
    secretName: {{ include "quell.secretName" . }}
- name: tmp
  emptyDir: {}
{{- end -}}

{{- define "quell.podAnnotations" -}}
checksum/config: {{ include "quell.config" . | sha256sum }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}
