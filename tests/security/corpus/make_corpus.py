#!/usr/bin/env python3
"""Generate the held-out redaction corpus (secrets + harmless look-alikes).

Written without looking at the redactor. Reproducible: a seeded
random.Random is used with the same alphabets the `secrets` module would
draw from (the `secrets` module itself cannot be seeded).

Outputs (next to this script):
  heldout_secrets.txt  -- "<SECRET>\t<line>" per line
  heldout_harmless.txt -- "<line>" per line
"""
import base64
import json
import random
import string
import uuid
from collections import Counter
from pathlib import Path

R = random.Random(0x4E7AB07)

ALNUM = string.ascii_letters + string.digits
UPPER_DIG = string.ascii_uppercase + string.digits
LOWER_DIG = string.ascii_lowercase + string.digits
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"


def rs(n, alpha=ALNUM):
    return "".join(R.choice(alpha) for _ in range(n))


def hx(n):
    return rs(n, HEX)


def b64bytes(n):
    return base64.b64encode(bytes(R.getrandbits(8) for _ in range(n))).decode()


def b64u(n):
    return base64.urlsafe_b64encode(bytes(R.getrandbits(8) for _ in range(n))).decode().rstrip("=")


def b64s(s):
    return base64.b64encode(s.encode()).decode()


def uid():
    return str(uuid.UUID(int=R.getrandbits(128), version=4))


def password(n=None, specials="!@#$%^&*-_=+?~"):
    n = n or R.randint(12, 24)
    while True:
        p = [R.choice(string.ascii_lowercase), R.choice(string.ascii_uppercase),
             R.choice(string.digits)] + [R.choice(ALNUM + specials) for _ in range(n - 3)]
        R.shuffle(p)
        s = "".join(p)
        if s[0].isalnum():
            return s


def pw_plain(n=None):
    return password(n, specials="")


def ts():
    return "2024-%02d-%02dT%02d:%02d:%02d.%03dZ" % (
        R.randint(1, 12), R.randint(1, 28), R.randint(0, 23), R.randint(0, 59),
        R.randint(0, 59), R.randint(0, 999))


def podname(base):
    return "%s-%s-%s" % (base, rs(R.choice([9, 10]), "bcdfghjklmnpqrstvwxz2456789"),
                         rs(5, "bcdfghjklmnpqrstvwxz2456789"))


USERS = ["app", "svc_orders", "billing", "admin", "readonly", "hexabot", "grafana", "keycloak", "airflow"]
HOSTS = ["db.prod.svc.cluster.local", "pg-primary.data.svc", "10.42.3.17", "orders-db.c8x2k1.eu-west-1.rds.amazonaws.com",
         "postgres-ha-pgpool.db", "mysql-0.mysql.shop.svc.cluster.local"]

# ---------------------------------------------------------------- vendor tokens
def stripe(kind="sk_live_"):
    return kind + rs(R.choice([24, 99]))
def slack_bot():
    return "xoxb-%d-%d-%s" % (R.randint(10**10, 10**13), R.randint(10**10, 10**13), rs(24))
def slack_user():
    return "xoxp-%d-%d-%d-%s" % (R.randint(10**10, 10**13), R.randint(10**10, 10**13), R.randint(10**10, 10**13), hx(32))
def slack_app():
    return "xapp-1-A%s-%d-%s" % (rs(10, UPPER_DIG), R.randint(10**12, 10**13), hx(64))
def slack_refresh():
    return "xoxe-1-" + rs(140, ALNUM + "-")
def gh(prefix="ghp_"):
    return prefix + rs(36)
def gh_pat():
    return "github_pat_11" + rs(20, UPPER_DIG) + "_" + rs(59)
def glpat():
    return "glpat-" + rs(20, B64URL)
def openai():
    return "sk-proj-" + rs(74, B64URL) + "T3BlbkFJ" + rs(74, B64URL)
def anthropic():
    return "sk-ant-api03-" + rs(93, B64URL) + "AA"
def akia(p="AKIA"):
    return p + rs(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
def aws_secret():
    return rs(40, B64)
def google():
    return "AIza" + rs(35, B64URL)
def twilio():
    return "SK" + hx(32)
def sendgrid():
    return "SG." + rs(22, B64URL) + "." + rs(43, B64URL)
def npm():
    return "npm_" + rs(36)
def pypi():
    return "pypi-AgEIcHlwaS5vcmc" + rs(R.randint(120, 180), B64URL)
def dop():
    return "dop_v1_" + hx(64)
def heroku():
    return "HRKU-AA" + rs(58, B64URL)
def mailgun():
    return "key-" + hx(32)
def vault():
    return "hvs." + rs(24) if R.random() < 0.5 else "hvs.CAESI" + rs(80, B64URL)
def jwt(payload=None):
    h = base64.urlsafe_b64encode(json.dumps({"alg": R.choice(["RS256", "HS256"]), "typ": "JWT", "kid": rs(43, B64URL)}, separators=(",", ":")).encode()).decode().rstrip("=")
    payload = payload or {"iss": "https://kubernetes.default.svc.cluster.local",
                          "sub": "system:serviceaccount:%s:%s" % (R.choice(["prod", "ops", "hexabot"]), R.choice(["default", "deployer", "hexabot"])),
                          "aud": ["https://kubernetes.default.svc"], "exp": R.randint(1700000000, 1800000000),
                          "iat": R.randint(1690000000, 1700000000), "jti": uid()}
    p = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")
    return "%s.%s.%s" % (h, p, b64u(256 if R.random() < 0.6 else 32))


def pem_body(nbytes):
    raw = b64bytes(nbytes)
    return [raw[i:i + 64] for i in range(0, len(raw), 64)]


SEC = []   # (category, secret, line)
HAR = []   # (category, line)


def S(cat, secret, line):
    SEC.append((cat, secret, line))


def H(cat, line):
    HAR.append((cat, line))


# =============================================================== SECRETS
# ---- credentials inside URLs
c = "url-credentials"
pw = pw_plain(20); S(c, pw, "DATABASE_URL=postgres://app:%s@db.prod.svc.cluster.local:5432/orders?sslmode=require" % pw)
pw = pw_plain(16); S(c, pw, "%s INFO  sqlalchemy.engine.Engine connecting to postgresql+psycopg2://svc_orders:%s@pg-primary.data.svc:5432/orders" % (ts(), pw))
pw = pw_plain(24); S(c, pw, '      "url": "mysql://root:%s@mysql-0.mysql.shop.svc.cluster.local:3306/shop",' % pw)
pw = pw_plain(18); S(c, pw, "MONGO_URI=mongodb+srv://hexabot:%s@cluster0.ab1cd.mongodb.net/hexabot?retryWrites=true&w=majority" % pw)
pw = pw_plain(32); S(c, pw, "celery.worker.consumer.connection: Connected to redis://:%s@redis-master.cache.svc.cluster.local:6379/0" % pw)
pw = pw_plain(28); S(c, pw, '    broker_url: "rediss://default:%s@clustercfg.hexa-cache.abc123.euw1.cache.amazonaws.com:6380/1"' % pw)
pw = pw_plain(20); S(c, pw, "[2024-03-11 09:14:22,118: ERROR/MainProcess] consumer: Cannot connect to amqp://orders:%s@rabbitmq.mq.svc:5672//: [Errno 111] Connection refused." % pw)
pw = pw_plain(22); S(c, pw, "AMQP_URL=amqps://billing:%s@b-6f1c2e3a-1234-4cde-9f00-abcdef012345.mq.eu-west-1.amazonaws.com:5671" % pw)
pw = password(14, "!*-_"); S(c, pw, "index-url = https://ci-reader:%s@nexus.internal.example.com/repository/pypi-group/simple" % pw)
tok = gh("ghs_"); S(c, tok, "Cloning into 'deploy-config'... git clone https://x-access-token:%s@github.com/hexabase/deploy-config.git" % tok)
tok = glpat(); S(c, tok, "+ git remote set-url origin https://oauth2:%s@gitlab.com/platform/infra.git" % tok)
pw = "p%40ss" + pw_plain(10) + "%21"; S(c, pw, "SMTP_URL=smtp://postmaster%%40mg.example.com:%s@smtp.mailgun.org:587" % pw)
pw = pw_plain(20); S(c, pw, "%s level=info msg=\"using elasticsearch\" url=http://elastic:%s@elasticsearch-master.logging:9200" % (ts(), pw))
pw = pw_plain(16); S(c, pw, "  File \"/usr/local/lib/python3.11/site-packages/psycopg/connection.py\", line 728, in connect: conninfo='postgresql://airflow:%s@airflow-postgresql:5432/airflow'" % pw)
pw = pw_plain(12); S(c, pw, "jdbc.url=jdbc:postgresql://pg-primary.data.svc:5432/keycloak?user=keycloak&password=%s&ssl=true" % pw)
pw = pw_plain(20); S(c, pw, "    - --datasource=mysql://exporter:%s@tcp(mysql-0.mysql.shop.svc:3306)/" % pw)
pw = pw_plain(26); S(c, pw, '{"level":"error","ts":"%s","msg":"dial failed","dsn":"postgres://grafana:%s@grafana-db:5432/grafana?sslmode=disable","error":"timeout"}' % (ts(), pw))
pw = pw_plain(18); S(c, pw, "Warning  BackOff  kubelet  Back-off restarting failed container worker: exec /app/run --queue amqp://worker:%s@rabbitmq:5672/jobs" % pw)
pw = pw_plain(14); S(c, pw, "proxy: http://corp\\svc-k8s:%s@proxy.corp.example.com:3128" % pw)
pw = password(22, "-_.~"); S(c, pw, "HTTPS_PROXY=http://egress:%s@squid.egress.svc:3128" % pw)

# ---- quoted values
c = "quoted-value"
pw = password(18); S(c, pw, '  password: "%s"' % pw)
s = rs(32, B64URL); S(c, s, "DEBUG config loaded: {'host': 'smtp.sendgrid.net', 'port': 587, 'user': 'apikey', 'secret': '%s'}" % s)
pw = password(16); S(c, pw, '{"time":"%s","level":"DEBUG","msg":"db settings","password":"%s","host":"db"}' % (ts(), pw))
pw = password(20); S(c, pw, "DATABASES['default']['PASSWORD'] = '%s'" % pw)
s = "django-insecure-" + rs(50, string.ascii_lowercase + string.digits + "!@#$%^&*(-_=+)"); S(c, s, "SECRET_KEY = '%s'" % s)
s = rs(40, ALNUM + "~._-"); S(c, s, '  client_secret = "%s"' % s)
pw = password(14); S(c, pw, "{:adapter=>\"postgresql\", :username=>\"rails\", :password=>\"%s\", :host=>\"pg\"}" % pw)
pw = password(16, "!#%^*-_"); S(c, pw, "define( 'DB_PASSWORD', '%s' );" % pw)
k = hx(32); S(c, k, '    "api_key": "%s",' % k)
pw = password(20); S(c, pw, "  admin_password = \"%s\"  # terraform.tfvars" % pw)
pw = password(12); S(c, pw, "requirepass \"%s\"" % pw)
s = rs(44, B64); S(c, s, 'auth_secret: \'%s\'' % s)

# ---- KEY=VALUE env dumps / KEY: VALUE config
c = "key-value"
for key, val in [
    ("DB_PASS", pw_plain(20)),
    ("SMTP_PASSWORD", password(16, "!#*-")),
    ("STRIPE_SECRET", stripe()),
    ("GITHUB_TOKEN", gh()),
    ("AWS_SECRET_ACCESS_KEY", aws_secret()),
    ("API_KEY", rs(32)),
    ("CLIENT_SECRET", rs(40, ALNUM + "~_.-")),
    ("PRIVATE_KEY_ID", hx(40)),
    ("ENCRYPTION_KEY", b64bytes(32)),
    ("MASTER_KEY", hx(32)),
    ("JWT_SECRET", rs(64)),
    ("SESSION_SECRET", hx(64)),
    ("COOKIE_SECRET", b64u(32)),
    ("REDIS_PASSWORD", pw_plain(24)),
    ("POSTGRES_PASSWORD", pw_plain(16)),
    ("MYSQL_ROOT_PASSWORD", password(20, "#%+=")),
    ("RABBITMQ_DEFAULT_PASS", pw_plain(18)),
    ("SECRET_KEY_BASE", hx(128)),
    ("NEXTAUTH_SECRET", b64bytes(32)),
    ("WEBHOOK_SECRET", "whsec_" + rs(32)),
    ("SENTRY_AUTH_TOKEN", "sntrys_" + b64u(120)),
    ("DD_API_KEY", hx(32)),
    ("NEW_RELIC_LICENSE_KEY", "eu01xx" + hx(30) + "NRAL"),
    ("VAULT_TOKEN", vault()),
    ("CONSUL_HTTP_TOKEN", uid()),
    ("HEROKU_API_KEY", uid()),
    ("OPENAI_API_KEY", openai()),
    ("ANTHROPIC_API_KEY", anthropic()),
    ("SLACK_BOT_TOKEN", slack_bot()),
    ("SLACK_SIGNING_SECRET", hx(32)),
]:
    S(c, val, "%s=%s" % (key, val))
s = rs(40, B64); S(c, s, "+ export AWS_SECRET_ACCESS_KEY=%s" % s)
s = pw_plain(18); S(c, s, "  smtp_password: %s" % s)
s = hx(64); S(c, s, "  encryption_key: %s" % s)
s = rs(32); S(c, s, "api_key: %s" % s)
s = rs(36, LOWER_DIG); S(c, s, "    keycloak.client-secret: %s" % s)
s = password(20, "@#%&"); S(c, s, "ADMIN_PASSWORD: %s" % s)
s = b64bytes(48); S(c, s, "ARGOCD_SERVER_SECRETKEY=%s" % s)
s = hx(40); S(c, s, "    oauth_token = %s" % s)
s = uid(); S(c, s, "  SPLUNK_HEC_TOKEN: %s" % s)
s = rs(64, ALNUM); S(c, s, "%s level=debug msg=\"env\" DRONE_RPC_SECRET=%s" % (ts(), s))

# ---- CLI command lines
c = "cli-flag"
pw = pw_plain(14); S(c, pw, "root         1  0.0  0.3 712344 25432 ?        Ssl  09:12   0:00 /usr/bin/pgbouncer-exporter --pgBouncer.connectionString=postgres://stats:%s@localhost:6432/pgbouncer" % pw)
pw = password(16, "!#%"); S(c, pw, "$ kubectl exec -it mysql-0 -- mysql -uroot -p%s -e 'SHOW DATABASES;'" % pw)
pw = pw_plain(12); S(c, pw, "mysqldump -h mysql-0.mysql -u backup -p%s --single-transaction shop > /backup/shop.sql" % pw)
pw = pw_plain(20); S(c, pw, "+ curl -sS -u deployer:%s https://nexus.internal.example.com/service/rest/v1/components?repository=helm" % pw)
tok = jwt(); S(c, tok, "$ curl -H \"Authorization: Bearer %s\" https://api.hexabase.local/v1/workspaces" % tok)
pw = pw_plain(24); S(c, pw, "docker login -u robot$ci --password %s harbor.example.com" % pw)
pw = rs(32); S(c, pw, "helm repo add internal https://charts.example.com --username ci --password %s" % pw)
pw = pw_plain(18); S(c, pw, "helm upgrade --install pg bitnami/postgresql -n data --set auth.postgresPassword=%s --set auth.database=app" % pw)
pw = password(16, "#%+"); S(c, pw, "kubectl create secret generic db-creds -n prod --from-literal=username=app --from-literal=password=%s" % pw)
tok = jwt(); S(c, tok, "I0311 09:14:22.118231   41 round_trippers.go:466] curl -v -XGET  -H \"Authorization: Bearer %s\" 'https://10.96.0.1:443/api/v1/namespaces/prod/pods'" % tok)
tok = jwt(); S(c, tok, "kubectl --server=https://k8s.example.com:6443 --token=%s get pods -A" % tok)
pw = pw_plain(20); S(c, pw, "argocd login argocd.example.com --username admin --password %s --grpc-web" % pw)
pw = pw_plain(22); S(c, pw, "redis-cli -h redis-master.cache -a %s --no-auth-warning INFO replication" % pw)
pw = pw_plain(16); S(c, pw, "mongosh \"mongodb://mongo-0.mongo:27017/admin\" --username root --password %s --eval 'rs.status()'" % pw)
pw = pw_plain(18); S(c, pw, "sshpass -p %s ssh -o StrictHostKeyChecking=no core@10.0.12.7" % pw)
s = rs(34, ALNUM + "~.-_"); S(c, s, "az login --service-principal -u 9c3e1f2a-0b7d-4e55-8a21-3f6d2c1b0a99 -p %s --tenant 72f988bf-86f1-41af-91ab-2d7cd011db47" % s)
s = aws_secret(); S(c, s, "aws configure set aws_secret_access_key %s --profile ci" % s)
pw = pw_plain(16); S(c, pw, "PGPASSWORD=%s psql -h pg-primary.data.svc -U app -d orders -c 'select 1'" % pw)
pw = pw_plain(14); S(c, pw, "openssl pkcs12 -export -in tls.crt -inkey tls.key -out keystore.p12 -passout pass:%s" % pw)
tok = vault(); S(c, tok, "vault login -method=token %s" % tok)
pw = pw_plain(20); S(c, pw, "Args: [--db-host=db --db-user=app --db-password=%s --port=8080]" % pw)
pw = pw_plain(12); S(c, pw, "htpasswd -b -c /etc/nginx/.htpasswd admin %s" % pw)
tok = rs(40, HEX); S(c, tok, "terraform apply -var 'cloudflare_api_token=%s' -auto-approve" % tok)
pw = pw_plain(18); S(c, pw, "keytool -importcert -alias ca -file ca.crt -keystore truststore.jks -storepass %s -noprompt" % pw)

# ---- Kubernetes env entries (JSON / YAML flattened / flow)
c = "k8s-env-entry"
v = password(18, "!#-_"); S(c, v, '{"name": "SMTP_PASSWORD", "value": "%s"}' % v)
v = pw_plain(20); S(c, v, '"env":[{"name":"LOG_LEVEL","value":"info"},{"name":"DB_PASSWORD","value":"%s"},{"name":"DB_HOST","value":"pg-primary"}]' % v)
v = stripe(); S(c, v, '                        {"name": "STRIPE_SECRET_KEY", "value": "%s"},' % v)
v = rs(32); S(c, v, 'kubectl.kubernetes.io/last-applied-configuration: {"apiVersion":"apps/v1","kind":"Deployment","spec":{"template":{"spec":{"containers":[{"env":[{\\"name\\":\\"API_KEY\\",\\"value\\":\\"%s\\"}]}]}}}}' % v)
v = aws_secret(); S(c, v, '{"name":"AWS_SECRET_ACCESS_KEY","value":"%s"}' % v)
v = pw_plain(16); S(c, v, "        - name: DB_PASSWORD\\n          value: %s" % v)
v = password(22, "#%&*"); S(c, v, "- name: REDIS_PASSWORD   value: \"%s\"" % v)
v = stripe(); S(c, v, "        - {name: STRIPE_SECRET_KEY, value: %s}" % v)
v = rs(48, B64URL); S(c, v, "name: JWT_SECRET, value: %s" % v)
v = pw_plain(20); S(c, v, "env: [{name: LOG_LEVEL, value: debug}, {name: RABBITMQ_PASSWORD, value: \"%s\"}]" % v)
v = hx(64); S(c, v, "    - name: HMAC_SIGNING_KEY\\n      value: \"%s\"\\n    - name: PORT\\n      value: \"8080\"" % v)
v = slack_bot(); S(c, v, '{"name":"SLACK_BOT_TOKEN","value":"%s"}' % v)
v = gh(); S(c, v, "  - name: GITHUB_TOKEN value: %s" % v)
v = openai(); S(c, v, '"containers":[{"name":"llm-gateway","env":[{"name":"OPENAI_API_KEY","value":"%s"}],"image":"ghcr.io/acme/gw:1.4.2"}]' % v)

# ---- Authorization / credential headers
c = "auth-header"
v = rs(40, ALNUM + "-._~"); S(c, v, "> Authorization: Bearer %s" % v)
v = jwt(); S(c, v, "Authorization: Bearer %s" % v)
v = b64s("admin:" + pw_plain(16)); S(c, v, "Authorization: Basic %s" % v)
v = b64s("ci-bot:" + password(20, "!#")); S(c, v, "{\"headers\":{\"accept\":\"application/json\",\"authorization\":\"Basic %s\"}}" % v)
v = gh(); S(c, v, "Authorization: token %s" % v)
v = hx(40); S(c, v, "Authorization: Token %s" % v)
v = hx(32); S(c, v, 'Authorization: Digest username="prometheus", realm="metrics@example.com", nonce="%s", uri="/metrics", qop=auth, nc=00000001, cnonce="0a4f113b", response="%s", opaque="5ccc069c403ebaf9f0171e9517f40e41"' % (hx(32), v))
v = b64s(rs(20) + ":" + rs(22)); S(c, v, "Authorization: ApiKey %s" % v)
v = hx(64); S(c, v, "Authorization: AWS4-HMAC-SHA256 Credential=%s/20240311/eu-west-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=%s" % (akia(), v))
v = "00" + rs(40, B64URL); S(c, v, "Authorization: SSWS %s" % v)
v = uid(); S(c, v, "Authorization: Splunk %s" % v)
v = b64s("proxyuser:" + pw_plain(14)); S(c, v, "Proxy-Authorization: Basic %s" % v)
v = glpat(); S(c, v, "PRIVATE-TOKEN: %s" % v)
v = anthropic(); S(c, v, "x-api-key: %s" % v)
v = rs(32, HEX); S(c, v, "X-API-Key: %s" % v)
v = rs(48, ALNUM); S(c, v, "X-Auth-Token: %s" % v)
v = rs(32, LOWER_DIG); S(c, v, "Cookie: csrftoken=Xq1; sessionid=%s; django_language=en" % v)
v = b64u(96); S(c, v, "< Set-Cookie: _oauth2_proxy=%s; Path=/; Expires=Mon, 18 Mar 2024 09:14:22 GMT; HttpOnly; Secure" % v)
v = jwt(); S(c, v, '[2024-03-11T09:14:22.118Z] "GET /api/v1/orders HTTP/1.1" 200 - 0 512 12 11 "10.42.0.1" "curl/8.5.0" "authorization=Bearer %s"' % v)
v = rs(32, LOWER_DIG); S(c, v, "GET /v1/forecast?lat=52.52&lon=13.40&api_key=%s&units=metric HTTP/1.1" % v)
v = "ya29." + rs(160, B64URL); S(c, v, "%s DEBUG urllib3.connectionpool https://www.googleapis.com:443 \"GET /storage/v1/b/hexa-backups/o?access_token=%s HTTP/1.1\" 200 None" % (ts(), v))
v = b64s("_json_key:" + rs(24)); S(c, v, "Authorization: Basic %s" % v)

# ---- Vendor tokens in varied contexts
c = "vendor-token"
for gen, tmpl in [
    (lambda: stripe("sk_live_"), "stripe.error.AuthenticationError: Invalid API Key provided: %s"),
    (lambda: stripe("rk_live_"), "  stripe_restricted_key: %s"),
    (lambda: stripe("sk_test_"), "STRIPE_API_KEY=%s"),
    (lambda: stripe("sk_live_"), "%s WARN payments: retrying charge with key=%s" % (ts(), "%s")),
    (slack_bot, "slack_sdk.errors.SlackApiError: invalid_auth (token=%s)"),
    (slack_user, "  user_token: %s"),
    (slack_app, "SLACK_APP_TOKEN=%s"),
    (slack_refresh, '{"ok":true,"refresh_token":"%s","expires_in":43200}'),
    (slack_bot, "hexabot.slack.startup bot token %s loaded for team T024BE7LD"),
    (lambda: gh("ghp_"), "https://github.com/login/oauth: using %s"),
    (lambda: gh("gho_"), '{"access_token":"%s","token_type":"bearer","scope":"repo,gist"}'),
    (gh_pat, "      GH_PAT: %s"),
    (lambda: gh("ghu_"), "echo %s | gh auth login --with-token"),
    (glpat, "CI_JOB_TOKEN_OVERRIDE=%s"),
    (glpat, "  gitlab_token: \"%s\""),
    (openai, "openai.AuthenticationError: Error code: 401 - Incorrect API key provided: %s."),
    (openai, '  "openai_api_key": "%s",'),
    (anthropic, "anthropic.AuthenticationError: invalid x-api-key %s"),
    (anthropic, "llm:\\n  provider: anthropic\\n  api_key: %s"),
    (lambda: akia("AKIA"), "aws_access_key_id = %s"),
    (lambda: akia("ASIA"), '{"Credentials":{"AccessKeyId":"%s","Expiration":"2024-03-11T10:14:22Z"}}'),
    (lambda: akia("AKIA"), "botocore.exceptions.ClientError: An error occurred (InvalidAccessKeyId) when calling the ListBuckets operation: The AWS Access Key Id %s does not exist in our records."),
    (aws_secret, "aws_secret_access_key = %s"),
    (aws_secret, '{"Credentials":{"SecretAccessKey":"%s","SessionToken":"FwoGZXIvYXdzEBYaDH"}}'),
    (google, "GOOGLE_MAPS_API_KEY=%s"),
    (google, "GET https://maps.googleapis.com/maps/api/geocode/json?address=Berlin&key=%s 403"),
    (google, '    "firebase": {"apiKey": "%s", "projectId": "hexa-prod"}'),
    (twilio, "TWILIO_API_KEY_SID=%s"),
    (lambda: hx(32), "TWILIO_AUTH_TOKEN=%s"),
    (sendgrid, "SENDGRID_API_KEY=%s"),
    (sendgrid, "  smtp:\\n    user: apikey\\n    pass: %s"),
    (npm, "//registry.npmjs.org/:_authToken=%s"),
    (npm, "NPM_TOKEN=%s"),
    (pypi, "password = %s"),
    (pypi, "twine upload -u __token__ -p %s dist/*"),
    (dop, "DIGITALOCEAN_ACCESS_TOKEN=%s"),
    (dop, "doctl auth init --access-token %s"),
    (heroku, "HEROKU_API_KEY=%s"),
    (mailgun, "MAILGUN_API_KEY=%s"),
    (mailgun, "requests.post('https://api.mailgun.net/v3/mg.example.com/messages', auth=('api', '%s'))"),
    (vault, "X-Vault-Token: %s"),
    (lambda: "glrt-" + rs(20, B64URL), "  token = \"%s\"  # gitlab-runner config.toml"),
    (lambda: "dckr_pat_" + rs(27, B64URL), "echo %s | docker login -u hexaci --password-stdin"),
    (lambda: "shpat_" + hx(32), "SHOPIFY_ACCESS_TOKEN=%s"),
    (lambda: "xkeysib-" + hx(64) + "-" + rs(16), "BREVO_API_KEY=%s"),
]:
    v = gen(); S(c, v, tmpl % v)

# ---- JWTs
c = "jwt"
v = jwt(); S(c, v, "token: %s" % v)
v = jwt({"sub": "1234567890", "email": "ops@example.com", "role": "admin", "iat": 1710148462}); S(c, v, '{"level":"debug","msg":"issued session","jwt":"%s"}' % v)
v = jwt(); S(c, v, "  id_token: %s" % v)
v = jwt(); S(c, v, "E0311 09:14:22.118231 1 authentication.go:73] \"Unable to authenticate the request\" err=\"invalid bearer token\" token=\"%s\"" % v)
v = jwt(); S(c, v, "ARGOCD_AUTH_TOKEN=%s" % v)
v = jwt(); S(c, v, "refresh_token=%s&grant_type=refresh_token&client_id=hexabot" % v)

# ---- PEM private key blocks flattened
c = "pem-private-key"
for label, nb, tmpl in [
    ("PRIVATE KEY", 1216, '  "private_key": "-----BEGIN PRIVATE KEY-----\\n%s\\n-----END PRIVATE KEY-----\\n",'),
    ("RSA PRIVATE KEY", 1190, '{"kind":"Secret","stringData":{"tls.key":"-----BEGIN RSA PRIVATE KEY-----\\n%s\\n-----END RSA PRIVATE KEY-----\\n"}}'),
    ("EC PRIVATE KEY", 121, "SIGNING_KEY=\"-----BEGIN EC PRIVATE KEY-----\\n%s\\n-----END EC PRIVATE KEY-----\""),
    ("OPENSSH PRIVATE KEY", 400, "    sshPrivateKey: \"-----BEGIN OPENSSH PRIVATE KEY-----\\n%s\\n-----END OPENSSH PRIVATE KEY-----\\n\""),
    ("PRIVATE KEY", 640, "ValueError: Could not deserialize key data: b'-----BEGIN PRIVATE KEY-----\\n%s\\n-----END PRIVATE KEY-----\\n'"),
    ("ENCRYPTED PRIVATE KEY", 1300, "  key.pem: \"-----BEGIN ENCRYPTED PRIVATE KEY-----\\n%s\\n-----END ENCRYPTED PRIVATE KEY-----\""),
]:
    body = "\\n".join(pem_body(nb))
    S(c, body, tmpl % body)
v = hx(40); S(c, v, '  "private_key_id": "%s",' % v)

# ---- hex secrets after secret-like keys
c = "hex-secret"
v = hx(32); S(c, v, "secret=%s" % v)
v = hx(64); S(c, v, "hmac_key: %s" % v)
v = hx(64); S(c, v, "  signing_key = %s" % v)
v = hx(32); S(c, v, "FACEBOOK_APP_SECRET=%s" % v)
v = hx(64); S(c, v, '"webhook_secret": "%s"' % v)
v = hx(48); S(c, v, "aes_key=%s" % v)
v = hx(40).upper(); S(c, v, "  LICENSE_SECRET: %s" % v)
v = hx(64); S(c, v, "INTERNAL_API_SECRET=%s" % v)
v = hx(32); S(c, v, "%s level=warn msg=\"webhook signature mismatch\" secret=%s path=/hooks/github" % (ts(), v))

# ---- base64 Secret data (kubectl get secret -o yaml / json)
c = "k8s-secret-data"
v = b64s(pw_plain(16)); S(c, v, "  password: %s" % v)
v = b64s("sk_live_" + rs(24)); S(c, v, "  stripe-key: %s" % v)
v = b64s(json.dumps({"auths": {"harbor.example.com": {"username": "robot$ci", "password": rs(32), "auth": b64s("robot$ci:" + rs(32))}}})); S(c, v, "  .dockerconfigjson: %s" % v)
v = b64s("-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(pem_body(600)) + "\n-----END RSA PRIVATE KEY-----\n"); S(c, v, "  tls.key: %s" % v)
v = b64s(jwt()); S(c, v, "  token: %s" % v)
v = b64s(pw_plain(20)); S(c, v, '{"apiVersion":"v1","data":{"api-key":"%s"},"kind":"Secret","metadata":{"name":"gateway-creds","namespace":"prod"},"type":"Opaque"}' % v)
v = b64s(aws_secret()); S(c, v, '    "aws_secret_access_key": "%s",' % v)
v = b64s("postgres://app:%s@pg-primary:5432/app" % pw_plain(18)); S(c, v, "  DATABASE_URL: %s" % v)
v = b64s(password(14, "!@#")); S(c, v, "data: {password: %s, username: YWRtaW4=}" % v)
v = b64s(hx(32)); S(c, v, "  secret-key: %s" % v)
v = b64s(gh()); S(c, v, "  github-token: %s" % v)
v = b64s(pw_plain(12)); S(c, v, "  mysql-root-password: %s" % v)

# ---- passwords with special characters
c = "special-char-password"
for tmpl in ['  password: "%s"', "DB_PASSWORD='%s'", 'ConnectionStrings__Default="Server=sql01;Database=Orders;User Id=sa;Password=%s;"',
             "  rootPassword: '%s'", '{"user":"svc","pass":"%s"}', "LDAP_BIND_PASSWORD=%s"]:
    v = password(20, "!@#$%^&*()[]{}<>?~+=-_|:,.")
    while "'" in v or '"' in v or ";" in v or "\\" in v:
        v = password(20)
    S(c, v, tmpl % v)

# ---- Java properties / .npmrc / connection strings / misc config files
c = "config-file"
v = pw_plain(18); S(c, v, "spring.datasource.password=%s" % v)
v = rs(32); S(c, v, "spring.security.oauth2.client.registration.keycloak.client-secret=%s" % v)
v = pw_plain(16); S(c, v, "spring.rabbitmq.password: %s" % v)
v = pw_plain(20); S(c, v, "javax.net.ssl.keyStorePassword=%s" % v)
v = b64s("ci:" + pw_plain(16)); S(c, v, "//nexus.internal.example.com/repository/npm-group/:_auth=%s" % v)
v = npm(); S(c, v, "@hexabase:registry=https://npm.pkg.github.com/ //npm.pkg.github.com/:_authToken=%s" % v)
v = pw_plain(16); S(c, v, "Server=tcp:hexa-sql.database.windows.net,1433;Initial Catalog=orders;User ID=appuser;Password=%s;Encrypt=True;" % v)
v = b64bytes(64); S(c, v, "DefaultEndpointsProtocol=https;AccountName=hexabackups;AccountKey=%s;EndpointSuffix=core.windows.net" % v)
v = b64bytes(32); S(c, v, "Endpoint=sb://hexa-bus.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=%s" % v)
v = pw_plain(18); S(c, v, "Host=pg-primary;Port=5432;Database=orders;Username=app;Password=%s;SSL Mode=Require" % v)
v = pw_plain(16); S(c, v, "pg-primary.data.svc:5432:orders:app:%s" % v)
v = gh(); S(c, v, "machine github.com login hexabot password %s" % v)
v = gh(); S(c, v, "https://hexabot:%s@github.com" % v)
v = b64s("robot$ci:" + rs(32)); S(c, v, '{"auths":{"harbor.example.com":{"auth":"%s"}}}' % v)
v = pw_plain(20); S(c, v, "  <password>%s</password>" % v)
v = pw_plain(16); S(c, v, "      <add key=\"ClearTextPassword\" value=\"%s\" />" % v)
v = rs(44, B64); S(c, v, "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"hexa\" password=\"%s\";" % v)
v = b64bytes(32); S(c, v, "    - aescbc:\\n        keys:\\n        - name: key1\\n          secret: %s" % v)
v = pw_plain(14); S(c, v, "[client]\\nuser=backup\\npassword=%s" % v)
v = pw_plain(16); S(c, v, "smtp_auth_password: %s" % v)
v = rs(40, ALNUM); S(c, v, "  bind_pw = %s" % v)

# ---- event messages / stack traces carrying secrets
c = "event-or-trace"
v = pw_plain(18); S(c, v, "Warning  Failed  12s  kubelet  Error: failed to create containerd task: exec: \"sh -c 'PGPASSWORD=%s pg_dump -h pg orders'\": permission denied" % v)
v = gh(); S(c, v, "Warning  FailedSync  argocd-repo-server  rpc error: code = Unknown desc = git fetch https://bot:%s@github.com/acme/cfg.git failed exit status 128" % v)
v = pw_plain(20); S(c, v, "Traceback (most recent call last): ... redis.exceptions.AuthenticationError: invalid username-password pair (url=redis://default:%s@redis:6379/0)" % v)
v = stripe(); S(c, v, "    STRIPE_KEY = \"%s\"  # File \"/app/billing/settings.py\", line 14, in <module>" % v)
v = pw_plain(16); S(c, v, "Caused by: org.postgresql.util.PSQLException: FATAL: password authentication failed; props={user=app, password=%s}" % v)
v = jwt(); S(c, v, "W0311 09:14:22.118231       1 reflector.go:535] failed to list *v1.Pod: Get \"https://10.96.0.1:443/api/v1/pods\": Unauthorized (bearer %s)" % v)

# =============================================================== HARMLESS
def sha():
    return hx(64)

c = "image-digest"
for img in ["ghcr.io/hexabase/hexabot", "docker.io/library/nginx", "registry.k8s.io/kube-proxy", "quay.io/prometheus/node-exporter",
            "public.ecr.aws/eks-distro/kubernetes/pause", "gcr.io/distroless/python3-debian12"]:
    H(c, "    image: %s@sha256:%s" % (img, sha()))
H(c, '      "imageID": "docker.io/bitnami/postgresql@sha256:%s",' % sha())
H(c, "Normal   Pulled     3m   kubelet  Successfully pulled image \"nginx:1.25.4\" in 2.118s (2.118s including waiting). Image size: 70544635 bytes. digest sha256:%s" % sha())
H(c, "Digest: sha256:%s" % sha())
H(c, "Status: Downloaded newer image for redis@sha256:%s" % sha())
H(c, "ghcr.io/hexabase/hexabot:1.8.2  sha256:%s  212MB" % sha())

c = "uid"
for _ in range(3):
    H(c, "  uid: %s" % uid())
H(c, '    "uid": "%s",' % uid())
H(c, "  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: %s, uid: %s, controller: true}]" % ("orders-7d9f8c6b5d", uid()))
H(c, "involvedObject: {kind: Pod, namespace: prod, name: %s, uid: %s}" % (podname("orders"), uid()))
H(c, "controller-uid=%s" % uid())
H(c, "batch.kubernetes.io/controller-uid: %s" % uid())
H(c, "X-Request-ID: %s" % uid())

c = "resource-version"
H(c, '  resourceVersion: "%d"' % R.randint(10**6, 10**9))
H(c, '    "resourceVersion": "%d",' % R.randint(10**6, 10**9))
H(c, "  generation: %d" % R.randint(1, 40))
H(c, "  observedGeneration: %d" % R.randint(1, 40))
H(c, 'W0311 09:14:22.118231 1 reflector.go:456] watch of *v1.ConfigMap ended with: too old resource version: %d (%d)' % (R.randint(10**7, 10**8), R.randint(10**7, 10**8)))
H(c, "deployment.kubernetes.io/revision: \"%d\"" % R.randint(1, 90))

c = "commit-sha"
H(c, "commit %s" % hx(40))
H(c, "%s Merge pull request #4411 from hexabase/fix-token-refresh" % hx(7))
H(c, "%s fix(redactor): do not mask image digests" % hx(7))
H(c, "    image: ghcr.io/hexabase/hexabot:sha-%s" % hx(7))
H(c, "    image: registry.example.com/orders/api:%s" % hx(40))
H(c, "  app.kubernetes.io/version: %s" % hx(7))
H(c, "GIT_COMMIT=%s" % hx(40))
H(c, "Revision: %s (HEAD -> main, origin/main)" % hx(40))
H(c, '    "argocd.argoproj.io/revision": "%s",' % hx(40))
H(c, "Updating %s..%s" % (hx(7), hx(7)))
H(c, "Author: Jane Doe <jane.doe@example.com> merged %s into main" % hx(12))
H(c, "vcs.revision=%s" % hx(40))

c = "container-id"
for _ in range(3):
    H(c, "    containerID: containerd://%s" % sha())
H(c, '      "containerID": "docker://%s",' % sha())
H(c, "time=\"%s\" level=info msg=\"StartContainer for \\\"%s\\\" returns successfully\"" % (ts(), sha()))
H(c, "CONTAINER           IMAGE               CREATED             STATE     NAME     ATTEMPT   POD ID   %s" % hx(13))
H(c, "%s   %s   2 hours ago   Running   orders   0   %s   orders-7d9f8c6b5d-x2k9p" % (hx(13), hx(13), hx(13)))

c = "public-base64"
cert = "-----BEGIN CERTIFICATE-----\n" + "\n".join(pem_body(700)) + "\n-----END CERTIFICATE-----\n"
H(c, "    caBundle: %s" % b64s(cert))
H(c, '  "certificate-authority-data": "%s"' % b64s(cert)[:400])
H(c, "  ca.crt: %s" % b64s(cert)[:300])
H(c, "binaryData:  banner.txt: %s" % b64s("Welcome to the Hexabase staging cluster. Contact #platform for help.\n"))
H(c, "  feature-flags.json: %s" % b64s(json.dumps({"newDashboard": True, "maxReplicas": 12, "region": "eu-west-1"})))
H(c, "  logo.svg: %s" % b64s('<svg xmlns="http://www.w3.org/2000/svg" width="24" height="24"><circle cx="12" cy="12" r="10"/></svg>'))
H(c, "  namespace: %s" % b64s("prod"))
H(c, "  username: %s" % b64s("readonly"))
H(c, "  service.beta.kubernetes.io/aws-load-balancer-ssl-cert-chain: %s" % b64s("arn:aws:acm:eu-west-1:123456789012:certificate/" + uid())[:80])
H(c, "        -----BEGIN CERTIFICATE-----\\n%s\\n-----END CERTIFICATE-----" % pem_body(48)[0])

c = "k8s-event"
for line in [
    "Normal   Scheduled  2m   default-scheduler  Successfully assigned prod/%s to ip-10-0-12-7.eu-west-1.compute.internal" % podname("orders"),
    "Warning  FailedMount  45s  kubelet  MountVolume.SetUp failed for volume \"db-creds\" : secret \"db-creds\" not found",
    "Warning  Failed  12s  kubelet  Error: couldn't find key password in Secret prod/db-creds",
    "Warning  Failed  8s  kubelet  Failed to pull image \"harbor.example.com/orders/api:1.4.2\": rpc error: code = Unknown desc = unauthorized: authentication required",
    "Normal   Pulling  4m  kubelet  Pulling image \"ghcr.io/hexabase/hexabot:1.8.2\"",
    "Warning  BackOff  1m (x14 over 5m)  kubelet  Back-off restarting failed container orders in pod %s" % podname("orders"),
    "Normal   SuccessfulCreate  7m  replicaset-controller  Created pod: %s" % podname("payments"),
    "Normal   ScalingReplicaSet  9m  deployment-controller  Scaled up replica set orders-7d9f8c6b5d to 3",
    "Warning  Unhealthy  30s  kubelet  Readiness probe failed: Get \"http://10.42.3.17:8080/healthz\": context deadline exceeded",
    "Normal   Killing  2m  kubelet  Stopping container orders",
    "Warning  FailedScheduling  1m  default-scheduler  0/6 nodes are available: 3 Insufficient cpu, 3 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }.",
    "Normal   SecretRotated  5m  external-secrets  secret db-creds synced from aws-secretsmanager://prod/orders/db",
    "Normal   Issuing  1m  cert-manager-certificates-issuing  The certificate has been successfully issued",
    "Warning  OOMKilling  3m  kernel-monitor  Memory cgroup out of memory: Killed process 4411 (python) total-vm:2104312kB",
    "Normal   Sync  10s  nginx-ingress-controller  Scheduled for sync",
    "Warning  ProvisioningFailed  2m  persistentvolume-controller  storageclass.storage.k8s.io \"gp3-encrypted\" not found",
    "Normal   TokenRotated  30m  kubelet  Service account token for pod prod/%s refreshed" % podname("orders"),
]:
    H(c, line)

c = "secret-words-no-value"
for line in [
    "%s INFO  auth: password reset email sent to user 4411" % ts(),
    "%s INFO  oauth: token refresh succeeded for workspace ws-8812 (expires in 3600s)" % ts(),
    "I0311 09:14:22.118231 1 operation_generator.go:721] MountVolume.SetUp succeeded for volume \"db-creds\" (secret volume mounted)",
    "%s INFO  kms: rotating keys in 5m" % ts(),
    "%s INFO  idp: passwordless login enabled for tenant acme" % ts(),
    "%s WARN  auth: invalid password for user admin from 10.42.0.15 (attempt 3/5)" % ts(),
    "%s ERROR db: FATAL: password authentication failed for user \"app\"" % ts(),
    "Caused by: java.sql.SQLException: Access denied for user 'root'@'10.0.0.3' (using password: YES)",
    "%s INFO  secrets: loaded 12 secrets from vault path kv/prod/orders" % ts(),
    "%s DEBUG api: token validation passed, subject=system:serviceaccount:prod:orders" % ts(),
    "%s INFO  tls: private key and certificate reloaded from /etc/tls" % ts(),
    "%s WARN  api key missing in request to /v1/healthz, falling back to anonymous" % ts(),
    "%s INFO  user 4411 changed their password" % ts(),
    "%s INFO  secret rotation completed: 3 rotated, 0 failed" % ts(),
    "%s ERROR Bearer token expired, re-authenticating" % ts(),
    "%s INFO  Found the key; continuing bootstrap" % ts(),
    "%s INFO  credentials provider chain: using web identity token file" % ts(),
    "The connection to the server localhost:8080 was refused - did you specify the right host or port?",
    "error: You must be logged in to the server (Unauthorized)",
    "Error from server (Forbidden): secrets is forbidden: User \"system:serviceaccount:hexabot:hexabot\" cannot list resource \"secrets\" in API group \"\" in the namespace \"prod\"",
    "Enter password:",
    "WARNING! Using --password via the CLI is insecure. Use --password-stdin.",
    "Login Succeeded",
    "mysql: [Warning] Using a password on the command line interface can be insecure.",
    "%s INFO  api_key rotated for integration pagerduty by ops@example.com" % ts(),
]:
    H(c, line)

c = "key-harmless-value"
for line in [
    "token_ttl: 3600", "password_min_length=12", "secret_name: db-creds", "key: app.kubernetes.io/name",
    "          valueFrom: {secretKeyRef: {name: db-secret, key: password}}",
    '{"name":"DB_PASSWORD","valueFrom":{"secretKeyRef":{"name":"db-secret","key":"password"}}}',
    "        - name: DB_PASSWORD\\n          valueFrom:\\n            secretKeyRef:\\n              name: db-creds\\n              key: password",
    "  password: ${DB_PASSWORD}", "DB_PASS=$(cat /run/secrets/db_pass)", 'password: "{{ .Values.auth.password }}"',
    "  password: <redacted>", "PASSWORD=********", "api_key: REDACTED", "  client_secret: ${OAUTH_CLIENT_SECRET}",
    "  secretName: orders-tls", "type: kubernetes.io/service-account-token", "type: kubernetes.io/dockerconfigjson",
    "imagePullSecrets: [{name: regcred}]", "  automountServiceAccountToken: false", "AWS_REGION=eu-west-1",
    "token_endpoint: https://auth.example.com/realms/hexa/protocol/openid-connect/token", "password_hash_algorithm: argon2id",
    "secretKeyRef: name: db-secret key: password", "  tokenExpirationSeconds: 3607", "max_token_length = 4096",
    "SECRET_STORE=vault", "KEY_ROTATION_INTERVAL=720h", "  encryption: {provider: aws-kms, keyAlias: alias/eks-secrets}",
    "    - key: node-role.kubernetes.io/control-plane", "      operator: Exists", "  keyUsages: [digital signature, key encipherment]",
    "--service-account-key-file=/etc/kubernetes/pki/sa.pub", "--tls-private-key-file=/etc/kubernetes/pki/apiserver.key",
    "docker login --username hexaci --password-stdin harbor.example.com", "PASSWORD_RESET_URL=https://app.example.com/reset",
    "  sessionAffinity: ClientIP", "auth_type: token", "  tokenReviewer: enabled", "GITHUB_TOKEN_SCOPE=repo:read",
    "  kms_key_id: alias/hexa-prod", "csrf_cookie_name: csrftoken",
]:
    H(c, line)

c = "url-no-credentials"
for line in [
    "https://api.example.com:8443/path?x=1", "DATABASE_HOST=postgres://db.svc:5432/app", "  url: https://charts.bitnami.com/bitnami",
    "redis://redis-master.cache.svc.cluster.local:6379/0", "amqp://rabbitmq.mq.svc:5672/%2F", "mongodb://mongo-0.mongo,mongo-1.mongo:27017/?replicaSet=rs0",
    "GET /api/v1/namespaces/prod/pods?labelSelector=app%3Dorders&limit=500 200 OK in 14 milliseconds",
    "https://github.com/hexabase/hexabot/compare/v1.8.1...v1.8.2", "git@github.com:hexabase/deploy-config.git",
    "https://hexabot.slack.com/archives/C024BE7LD/p1710148462118231", "Location: https://auth.example.com/login?next=%2Fdashboard&state=ok",
    "http://[fd00:10:96::1]:443/healthz",
]:
    H(c, line)

c = "email"
for line in ["Author: Jane Doe <jane.doe@example.com>", "notify: [oncall@hexabase.io, platform-team@example.com]",
             "%s INFO  mailer: delivered message to ops+alerts@example.com" % ts(), "  email: robot-ci@hexa-prod.iam.gserviceaccount.com",
             "Reply-To: no-reply@mg.example.com"]:
    H(c, line)

c = "ipv6"
for line in ["  podIP: fd00:10:244:1::1a", "inet6 fe80::a8c1:abff:fe12:3456/64 scope link", "    clusterIPs: [10.96.0.10, fd00:10:96::a]",
             "Listening on [2001:db8:85a3::8a2e:370:7334]:8080", "  - address: 2600:1f18:24e6:a400:8c1e:7b3d:9f02:11aa"]:
    H(c, line)

c = "checksum"
for f in ["hexabot-1.8.2-linux-amd64.tar.gz", "kubectl", "helm-v3.14.2-linux-amd64.tar.gz", "SHA256SUMS.sig"]:
    H(c, "%s  %s" % (sha(), f))
H(c, "md5sum: %s  backup-2024-03-11.sql.gz" % hx(32))
for k in ["checksum/config", "checksum/secret", "checksum/configmap"]:
    H(c, "        %s: %s" % (k, sha()))
H(c, "  integrity: sha512-%s" % b64bytes(64))
H(c, 'hexabot==1.8.2 --hash=sha256:%s' % sha())

c = "trace-request-etag"
H(c, "traceparent: 00-%s-%s-01" % (hx(32), hx(16)))
H(c, '{"trace_id":"%s","span_id":"%s","msg":"handled request"}' % (hx(32), hx(16)))
H(c, "X-Amzn-Trace-Id: Root=1-%s-%s" % (hx(8), hx(24)))
H(c, 'ETag: "%s"' % hx(32))
H(c, 'ETag: W/"%s"' % hx(40))
H(c, "x-amz-request-id: %s" % rs(16, UPPER_DIG))
H(c, "x-amz-id-2: %s" % b64bytes(48))
H(c, "X-GitHub-Request-Id: %s:%s:%s:%s:%s" % tuple(rs(n, "0123456789ABCDEF") for n in (4, 5, 6, 7, 8)))
H(c, "cf-ray: %s-FRA" % hx(16))
H(c, "request_id=%s status=200 duration=12.3ms" % uid())

c = "prometheus-metric"
for line in [
    'container_memory_working_set_bytes{container="orders",namespace="prod",pod="%s"} 2.4117248e+08' % podname("orders"),
    'apiserver_request_total{code="200",resource="secrets",verb="LIST"} 4411',
    'http_requests_total{method="POST",path="/v1/tokens",status="201"} 1027',
    '# HELP token_refresh_failures_total Number of failed OAuth token refreshes.',
    'hexabot_slack_events_total{type="app_mention"} 318',
    'kube_secret_info{namespace="prod",secret="db-creds"} 1',
    'process_cpu_seconds_total 12.47',
    'certmanager_certificate_expiration_timestamp_seconds{name="orders-tls",namespace="prod"} 1.7181484e+09',
]:
    H(c, line)

c = "json-log"
for line in [
    '{"level":"info","ts":"%s","logger":"controller","msg":"Reconciling","namespace":"prod","name":"orders","reconcileID":"%s"}' % (ts(), uid()),
    '{"time":"%s","level":"INFO","msg":"token refreshed","expires_in":3600,"token_type":"Bearer"}' % ts(),
    '{"severity":"WARNING","message":"secret db-creds has no key \\"password\\"","k8s.pod.name":"%s"}' % podname("orders"),
    '{"status":"ok","latency_ms":12,"path":"/healthz","user_agent":"kube-probe/1.29"}',
    '{"event":"login","user_id":4411,"method":"password","success":true,"ip":"10.42.0.15"}',
    '{"msg":"config","has_api_key":true,"password_set":true,"key_id":"alias/hexa-prod"}',
    '{"kind":"Event","type":"Normal","reason":"Pulled","message":"Container image \\"nginx:1.25.4\\" already present on machine"}',
    '{"ts":1710148462.118,"caller":"zap/logger.go:44","msg":"leader election lost","lease":"hexabot-leader"}',
]:
    H(c, line)

c = "timestamp-duration"
for line in ["  creationTimestamp: \"2024-03-11T09:14:22Z\"", "Started:      Mon, 11 Mar 2024 09:14:22 +0000",
             "Successfully pulled image in 2.118s (2.118s including waiting)", "  progressDeadlineSeconds: 600",
             "last_seen=%s age=3d4h12m" % ts(), "Elapsed: 00:04:12.118"]:
    H(c, line)

c = "kubectl-table"
H(c, "NAME                                READY   STATUS    RESTARTS   AGE")
for b in ["orders", "payments", "hexabot", "redis-master"]:
    H(c, "%-35s 1/1     Running   0          3d4h" % podname(b))
H(c, "NAME        TYPE                                  DATA   AGE")
H(c, "db-creds    Opaque                                2      41d")
H(c, "regcred     kubernetes.io/dockerconfigjson        1      120d")
H(c, "default-token-x2k9p   kubernetes.io/service-account-token   3      400d")
H(c, "NAME                                          STATUS   ROLES    AGE    VERSION")
H(c, "ip-10-0-12-7.eu-west-1.compute.internal      Ready    <none>   12d    v1.29.1-eks-5e0fdde")

c = "names-nodes"
for line in ["  nodeName: gke-prod-pool-1-8f3c2a1b-x9kq", "  hostname: %s" % podname("hexabot"),
             "pod/%s condition met" % podname("orders"), "  nodeName: aks-nodepool1-31718369-vmss000002",
             "job.batch/backup-28499520 created", "replicaset.apps/orders-7d9f8c6b5d   3   3   3   12d"]:
    H(c, line)

c = "aws-ids"
for line in ["  eks.amazonaws.com/role-arn: arn:aws:iam::123456789012:role/hexabot-irsa",
             "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/orders/db-AbCdEf",
             "AWS_ACCOUNT_ID=123456789012", "s3://hexa-prod-backups-eu-west-1/postgres/2024-03-11/",
             "arn:aws:kms:eu-west-1:123456789012:key/%s" % uid(), "  sg-0a1b2c3d4e5f67890  subnet-0123456789abcdef0  vpc-0f1e2d3c4b5a69788",
             "i-0abcd1234ef567890  running  m6i.large  eu-west-1a", "arn:aws:eks:eu-west-1:123456789012:cluster/hexa-prod"]:
    H(c, line)

c = "version-cron"
for line in ["Client Version: v1.29.2", "Server Version: v1.29.1-eks-5e0fdde", "helm.sh/chart: postgresql-13.4.4",
             '  schedule: "*/15 * * * *"', "  schedule: 0 3 * * 0", "Python 3.11.7 (main, Dec 19 2023, 20:42:25) [GCC 12.2.0]",
             "appVersion: 1.8.2", "kustomize v5.3.0"]:
    H(c, line)

c = "public-key-fingerprint"
H(c, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI%s jane@laptop" % rs(43, B64))
H(c, "256 SHA256:%s jane@laptop (ED25519)" % b64bytes(32).rstrip("="))
H(c, "    SHA256 Fingerprint=%s" % ":".join(hx(2).upper() for _ in range(32)))
H(c, "-----BEGIN PUBLIC KEY-----\\n%s\\n-----END PUBLIC KEY-----" % pem_body(200)[0])
H(c, "  jwks_uri: https://auth.example.com/realms/hexa/protocol/openid-connect/certs")
H(c, '{"keys":[{"kty":"RSA","kid":"%s","use":"sig","alg":"RS256","e":"AQAB"}]}' % rs(43, B64URL))

# =============================================================== write + check
here = Path(__file__).resolve().parent
errors = []
seen = set()
for cat, s, line in SEC:
    if s not in line:
        errors.append("secret not in line: %r" % line)
    if "\t" in line or "\n" in line or "\t" in s or not s.strip():
        errors.append("bad chars: %r" % line)
    if len(s) < 8:
        errors.append("secret too short: %r" % s)
    if line in seen:
        errors.append("duplicate: %r" % line)
    seen.add(line)
secret_values = [s for _, s, _ in SEC]
for cat, line in HAR:
    if "\t" in line or "\n" in line or not line.strip():
        errors.append("bad harmless: %r" % line)
    if line in seen:
        errors.append("duplicate: %r" % line)
    seen.add(line)
    for s in secret_values:
        if s in line:
            errors.append("harmless contains a secret: %r" % line)
if errors:
    raise SystemExit("\n".join(errors))

(here / "heldout_secrets.txt").write_text("".join("%s\t%s\n" % (s, l) for _, s, l in SEC), encoding="utf-8")
(here / "heldout_harmless.txt").write_text("".join("%s\n" % l for _, l in HAR), encoding="utf-8")

if __name__ == "__main__":
    print("secrets:", len(SEC))
    for k, n in Counter(c for c, _, _ in SEC).items():
        print("  %-24s %d" % (k, n))
    print("harmless:", len(HAR))
    for k, n in Counter(c for c, _ in HAR).items():
        print("  %-24s %d" % (k, n))
