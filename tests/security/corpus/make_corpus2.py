#!/usr/bin/env python3
"""Generator for the second held-out redaction corpus.

Written blind: the author never saw the redactor or the earlier corpora.
Everything random comes from one seeded ``random.Random`` so that running

    python3 tests/security/corpus/make_corpus2.py

always rewrites byte-identical files:

* heldout2_secrets.txt  -- ``<SECRET>\\t<line>``; SECRET occurs verbatim in the
  line and must not survive redaction.
* heldout2_harmless.txt -- one line per entry; a good redactor leaves it as is.

All secrets are synthetic (random), none is a real credential.
"""
import base64
import collections
import json
import os
import random
import string
import struct
import sys
import urllib.parse
import uuid

SEED = 0x4E7A2B02
R = random.Random(SEED)
HERE = os.path.dirname(os.path.abspath(__file__))

AL = string.ascii_letters + string.digits
LOW = string.ascii_lowercase + string.digits
UP = string.ascii_uppercase + string.digits
HEXL = "0123456789abcdef"
B64A = AL + "+/"
URLA = AL + "-_"
K8S = "bcdfghjklmnpqrstvwxz2456789"
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


# --------------------------------------------------------------- primitives
def rs(n, a=AL):
    return "".join(R.choice(a) for _ in range(n))


def hx(n):
    return rs(n, HEXL)


def HX(n):
    return rs(n, HEXL.upper())


def rb(n):
    return bytes(R.getrandbits(8) for _ in range(n))


def b64(nb):
    return base64.b64encode(rb(nb)).decode()


def b64u(nb):
    return base64.urlsafe_b64encode(rb(nb)).decode().rstrip("=")


def b64s(text):
    return base64.b64encode(text.encode()).decode()


def b64u_json(obj):
    raw = json.dumps(obj, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def uid():
    return str(uuid.UUID(int=R.getrandbits(128), version=4))


def digits(n):
    return str(R.randint(1, 9)) + rs(n - 1, string.digits)


def ip():
    return f"10.{R.randint(0, 255)}.{R.randint(0, 255)}.{R.randint(2, 254)}"


def pubip():
    return f"{R.choice([34, 35, 52, 54, 18, 3])}.{R.randint(0, 255)}.{R.randint(0, 255)}.{R.randint(2, 254)}"


MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _t():
    return (2024, R.randint(1, 12), R.randint(1, 28), R.randint(0, 23), R.randint(0, 59), R.randint(0, 59))


def ts():
    y, m, d, H, M, S = _t()
    return f"{y}-{m:02d}-{d:02d}T{H:02d}:{M:02d}:{S:02d}.{R.randint(0, 999):03d}Z"


def ts_gh():
    y, m, d, H, M, S = _t()
    return f"{y}-{m:02d}-{d:02d}T{H:02d}:{M:02d}:{S:02d}.{R.randint(0, 9999999):07d}Z"


def ts_py():
    y, m, d, H, M, S = _t()
    return f"{y}-{m:02d}-{d:02d} {H:02d}:{M:02d}:{S:02d},{R.randint(0, 999):03d}"


def ts_sp():
    y, m, d, H, M, S = _t()
    return f"{y}-{m:02d}-{d:02d}T{H:02d}:{M:02d}:{S:02d}.{R.randint(0, 999):03d}+00:00"


def ts_ng():
    y, m, d, H, M, S = _t()
    return f"{d:02d}/{MONTHS[m - 1]}/{y}:{H:02d}:{M:02d}:{S:02d} +0000"


def ts_ngerr():
    y, m, d, H, M, S = _t()
    return f"{y}/{m:02d}/{d:02d} {H:02d}:{M:02d}:{S:02d}"


def epoch():
    return R.randint(1704067200, 1735603200)


APPS = ["api", "billing", "checkout", "orders", "ledger", "notifier", "search", "worker", "gateway",
        "catalog", "payments", "auth", "reporting", "ingest", "scheduler", "webhooks", "inventory"]
NSS = ["prod", "staging", "payments", "platform", "data", "ops", "default", "monitoring", "ci"]
USERS = ["app", "svc_orders", "deploy", "ci-bot", "admin", "reporting", "etl", "grafana", "airflow", "ledger_rw"]
WORDS = ["falcon", "maple", "orbit", "copper", "harbor", "violet", "tundra", "mosaic", "quartz", "ember",
         "glacier", "saffron", "nimbus", "pepper", "raven", "lantern", "cobalt", "juniper", "sierra", "walnut"]


def app():
    return R.choice(APPS)


def ns():
    return R.choice(NSS)


def user():
    return R.choice(USERS)


def pod(a=None):
    return f"{a or app()}-{rs(R.choice([9, 10]), K8S)}-{rs(5, K8S)}"


def pw():
    """Realistic password; first char alnum; no quotes, backslash, tab, space."""
    style = R.randrange(5)
    if style == 0:
        p = rs(R.randint(14, 24))
    elif style == 1:
        p = R.choice(WORDS).capitalize() + R.choice("-_.!") + R.choice(WORDS) + str(R.randint(10, 9999)) + R.choice("!#$%")
    elif style == 2:
        p = R.choice(AL) + "".join(R.choice(AL + "!@#%^&*-_+=?.~") for _ in range(R.randint(12, 20)))
    elif style == 3:
        p = rs(4) + R.choice("@#%!") + rs(5) + R.choice("@#%!&") + rs(4)
    else:
        p = R.choice(WORDS) + rs(3, string.digits) + R.choice(WORDS).upper() + R.choice("!?#")
    return p


def pwa(n=None):
    """alphanumeric password (for contexts where specials would break syntax)."""
    return rs(n or R.randint(16, 28))


def pwq():
    """password containing specials; url-encoded form is returned as second value."""
    p = rs(3) + R.choice("@#%!") + rs(4) + R.choice("@#/:?") + rs(5) + R.choice("!%@")
    return urllib.parse.quote(p, safe="")


# ------------------------------------------------------------ vendor formats
def aws_id(prefix="AKIA"):
    return prefix + rs(16, B32)


def aws_secret():
    return rs(40, AL + "+/")


def aws_session():
    return "IQoJb3JpZ2luX2VjE" + rs(R.randint(300, 420), B64A) + "=="


def stripe_sk():
    return "sk_live_" + (rs(24) if R.random() < 0.5 else "51" + rs(97))


def slack_xoxb():
    return f"xoxb-{digits(R.choice([11, 12]))}-{digits(13)}-{rs(24)}"


def slack_xoxp():
    return f"xoxp-{digits(11)}-{digits(12)}-{digits(13)}-{hx(32)}"


def gh_pat():
    return "ghp_" + rs(36)


def gh_fine():
    return "github_pat_11" + rs(20, UP) + "_" + rs(59)


def glpat():
    return "glpat-" + rs(20, URLA)


def openai_key():
    if R.random() < 0.6:
        return "sk-proj-" + rs(74, URLA) + "T3BlbkFJ" + rs(74, URLA)
    return "sk-" + rs(20) + "T3BlbkFJ" + rs(20)


def anthropic_key():
    return "sk-ant-api03-" + rs(93, URLA) + "AA"


def jwt(payload, alg="RS256", sigbytes=256, kid=True):
    h = {"alg": alg, "typ": "JWT"}
    if kid:
        h = {"alg": alg, "kid": rs(43, URLA)}
    return b64u_json(h) + "." + b64u_json(payload) + "." + b64u(sigbytes)


def sa_jwt(nsn="ops", sa="hexabot"):
    t = epoch()
    return jwt({"aud": ["https://kubernetes.default.svc.cluster.local"], "exp": t + 3600, "iat": t,
                "iss": "https://kubernetes.default.svc.cluster.local",
                "kubernetes.io": {"namespace": nsn, "pod": {"name": pod(), "uid": uid()},
                                  "serviceaccount": {"name": sa, "uid": uid()}},
                "nbf": t, "sub": f"system:serviceaccount:{nsn}:{sa}"})


def user_jwt():
    t = epoch()
    return jwt({"sub": digits(8), "email": f"{R.choice(WORDS)}@example.com", "role": "admin",
                "iat": t, "exp": t + 900}, alg="HS256", sigbytes=32, kid=False)


def pem_lines(der):
    s = base64.b64encode(der).decode()
    return [s[i:i + 64] for i in range(0, len(s), 64)]


def rsa_der():
    n = 1213
    hdr = bytes.fromhex("308204bd020100300d06092a864886f70d0101010500048204a7")
    return hdr + rb(n - len(hdr) + 4)


def ec_der():
    return (bytes.fromhex("30770201010420") + rb(32) + bytes.fromhex("a00a06082a8648ce3d030107a14403420004") + rb(64))


def ossh_blob():
    def sstr(b):
        return struct.pack(">I", len(b)) + b
    pub = sstr(b"ssh-ed25519") + sstr(rb(32))
    chk = rb(4)
    priv = chk + chk + sstr(b"ssh-ed25519") + sstr(rb(32)) + sstr(rb(64)) + sstr(b"deploy@ci") + b"\x01\x02\x03"
    return (b"openssh-key-v1\x00" + sstr(b"none") + sstr(b"none") + sstr(b"") + struct.pack(">I", 1)
            + sstr(pub) + sstr(priv))


def pem_body(der):
    """base64 body joined by a literal backslash-n (as inside JSON strings)."""
    return "\\n".join(pem_lines(der))


def ssh_pub_ed():
    def sstr(b):
        return struct.pack(">I", len(b)) + b
    return "ssh-ed25519 " + base64.b64encode(sstr(b"ssh-ed25519") + sstr(rb(32))).decode()


def ssh_pub_rsa():
    def sstr(b):
        return struct.pack(">I", len(b)) + b
    return "ssh-rsa " + base64.b64encode(sstr(b"ssh-rsa") + sstr(b"\x01\x00\x01") + sstr(b"\x00" + rb(256))).decode()


def cert_pem_text():
    der = bytes.fromhex("308203") + rb(2) + bytes.fromhex("308202") + rb(R.randint(420, 520))
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(pem_lines(der)) + "\n-----END CERTIFICATE-----\n"


# =================================================================== SECRETS
SEC = []


def S(cat, secret, line):
    SEC.append((cat, secret, line))


def build_secrets():
    # ---------------- Django / Python / Celery / Airflow ----------------
    S("password-kv", (x := pwa()), f"[{ts_py()}] DEBUG django.db.backends: settings DATABASES={{'default': {{'ENGINE': 'django.db.backends.postgresql', 'NAME': 'orders', 'USER': 'orders_app', 'PASSWORD': '{x}', 'HOST': 'pg-primary.data.svc', 'PORT': '5432'}}}}")
    djk = rs(50, "abcdefghijklmnopqrstuvwxyz0123456789!@#$%^&*(-_=+)")
    S("hmac/encryption-key", djk, f"SECRET_KEY = '{djk}'")
    S("url-credential", (x := pwa()), f"[{ts_py()}: INFO/MainProcess] Connected to amqp://celery:{x}@rabbitmq.messaging.svc.cluster.local:5672//")
    S("url-credential", (x := pwa()), f"broker_url = 'redis://:{x}@redis-master.cache.svc:6379/0'")
    S("url-credential", (x := pwa()), f"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=postgresql+psycopg2://airflow:{x}@airflow-postgresql.airflow.svc:5432/airflow")
    S("hmac/encryption-key", (x := base64.urlsafe_b64encode(rb(32)).decode()), f"AIRFLOW__CORE__FERNET_KEY={x}")
    a = aws_secret()
    S("cloud-credential", urllib.parse.quote(a, safe=""), f"airflow connections add 'aws_default' --conn-uri 'aws://{aws_id()}:{urllib.parse.quote(a, safe='')}@/?region_name=eu-west-1'")
    x = pwq()
    S("url-credential", x, f'    engine = create_engine("mysql+pymysql://root:{x}@mysql.shop.svc:3306/shop", pool_pre_ping=True)')
    S("password-kv", (x := pw()), f"{ts_py()} INFO config: Settings(database_url='postgresql://reporting@pg-replica:5432/reporting', redis_password='{x}', debug=False, workers=4)")
    S("oauth-client-secret", (x := rs(40, URLA)), f"send: b'POST /oauth/token HTTP/1.1\\r\\nHost: auth.example.com\\r\\nContent-Type: application/x-www-form-urlencoded\\r\\n\\r\\ngrant_type=client_credentials&client_id=reporting&client_secret={x}'")
    S("cloud-credential", (x := aws_secret()), f"DEBUG botocore.credentials: {{'aws_access_key_id': '{aws_id()}', 'aws_secret_access_key': '{x}', 'region_name': 'eu-west-1'}}")
    S("auth-header", (x := hx(64)), f"{ts_py()} DEBUG botocore.endpoint: Sending http request: <AWSPreparedRequest method=PUT, url=https://backups.s3.eu-west-1.amazonaws.com/db/{uid()}.tar.gz, headers={{'Authorization': b'AWS4-HMAC-SHA256 Credential={aws_id()}/20240503/eu-west-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={x}'}}>")
    S("password-kv", (x := pw()), f"Traceback locals: {{'self': <PaymentClient at 0x7f3a2c1d0e50>, 'api_user': 'svc-pay', 'api_password': '{x}', 'retries': 3}}")
    S("password-kv", "correct horse " + (x := R.choice(WORDS)) + " staple", f'SMTP_PASSWORD="correct horse {x} staple"')
    S("vendor-key:sendgrid", (x := "SG." + rs(22, URLA) + "." + rs(43, URLA)), f"    sg = sendgrid.SendGridAPIClient(api_key='{x}')")
    S("vendor-key:slack", (x := slack_xoxb()), f'client = WebClient(token="{x}")')
    S("vendor-key:openai", (x := openai_key()), f'openai.api_key = "{x}"')

    # ---------------- Rails / Ruby ----------------
    S("password-kv", (x := pw()), f'Parameters: {{"authenticity_token"=>"[FILTERED]", "user"=>{{"email"=>"ops@example.com", "password"=>"{x}", "remember_me"=>"0"}}, "commit"=>"Log in"}}')
    S("hmac/encryption-key", (x := hx(32)), f"RAILS_MASTER_KEY={x}")
    S("hmac/encryption-key", (x := hx(128)), f'  config.secret_key_base = "{x}"')
    S("url-credential", (x := pwa()), f'Sidekiq 7.1.2 connecting to Redis with options {{:size=>10, :pool_name=>"internal", :url=>"redis://:{x}@redis.sidekiq.svc:6379/1"}}')
    S("vendor-key:stripe", (x := stripe_sk()), f"Stripe.api_key = '{x}'")
    S("password-kv", (x := pw()), f'  password: <%= ENV.fetch("DB_PASSWORD") {{ "{x}" }} %>')
    S("cookie/session", (x := b64(96).rstrip("=") + "--" + b64(24).rstrip("=") + "--" + b64(16)), f"Set-Cookie: _storefront_session={x}; path=/; secure; HttpOnly; SameSite=Lax")

    # ---------------- Spring Boot / Java / Kafka ----------------
    S("password-kv", (x := pw()), f"spring.datasource.password={x}")
    S("password-kv", (x := pw()), f'{{"name":"spring.datasource.password","value":"{x}","origin":"System Environment Property \\"SPRING_DATASOURCE_PASSWORD\\""}}')
    S("dsn", (x := pwa()), f"jdbc:sqlserver://mssql.prod.svc:1433;databaseName=billing;user=billing_svc;password={x};encrypt=true;trustServerCertificate=false")
    S("dsn", (x := pwa()), f"{ts_sp()}  INFO 1 --- [main] o.s.b.a.jdbc.DataSourceInitializer : url=jdbc:mysql://mysql.shop.svc:3306/app?user=app&password={x}&useSSL=true")
    S("password-kv", (x := pw()), f"DataSourceProperties{{url='jdbc:postgresql://pg.inventory.svc:5432/inv', username='inv', password='{x}', driverClassName='org.postgresql.Driver'}}")
    S("cli-flag", (x := pwa()), f"keytool -importkeystore -srckeystore tls.p12 -srcstoretype PKCS12 -srcstorepass {x} -destkeystore keystore.jks -deststorepass {x}")
    S("cli-flag", (x := pwa()), f"1000       1  4.2 12.9 6142332 1059360 ?     Ssl  09:14   3:02 java -Xmx1g -Djavax.net.ssl.keyStorePassword={x} -jar /app/{app()}.jar --spring.profiles.active=prod")
    S("password-kv", (x := pw()), f'    sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule required username="svc-orders" password="{x}";')
    S("password-kv", (x := pwa()), f"sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username='etl' password='{x}';")
    S("vendor-key:confluent", (x := rs(64, B64A)), f"%7|{epoch()}.{R.randint(100,999)}|CONF|rdkafka#producer-1| [thrd:app]: Client configuration: sasl.username = {rs(16, UP)}, sasl.password = {x}")
    S("password-kv", (x := pw()), f"ldap.manager.password={x}")
    S("password-kv", (x := pw()), f"<server><id>nexus-releases</id><username>deploy</username><password>{x}</password></server>")
    S("password-kv", (x := rs(4) + "&amp;" + rs(5) + "#!" + rs(3)), f'<Resource name="jdbc/app" auth="Container" type="javax.sql.DataSource" username="app" password="{x}" url="jdbc:oracle:thin:@oracle.erp.svc:1521/ORCL" maxTotal="20"/>')
    S("password-kv", (x := pwa()), f"{ts_sp()} WARN [main] o.a.k.c.c.ConsumerConfig : ssl.keystore.password = {x} was supplied but isn't a known config.")
    S("cli-flag", (x := pwa()), f"Caused by: java.lang.IllegalStateException: Failed to start keystore loader with --keystore-pass={x}")
    S("bearer-token", (x := rs(32, LOW)), f"{ts_sp()} DEBUG 1 --- [nio-8080-exec-3] o.s.web.client.RestTemplate : HTTP GET https://vault.internal:8200/v1/secret/data/app, headers=[X-Vault-Token:\"s.{x}\", Accept:\"application/json\"]")

    # ---------------- Node / Express ----------------
    S("password-kv", (x := pw()), f"{{ host: 'mongo-0.mongo.data.svc', user: 'api', password: '{x}', database: 'catalog', poolSize: 10 }}")
    S("url-credential", (x := pwa()), f"MongoServerError: bad auth : Authentication failed. uri=mongodb+srv://api:{x}@cluster0.ab1cd.mongodb.net/prod?retryWrites=true&w=majority")
    S("query-token", (x := rs(40, URLA)), f'{ip()} - - [{ts_ng()}] "GET /api/export?access_token={x}&format=csv HTTP/1.1" 200 5123 "-" "curl/8.4.0"')
    S("vendor-key:twilio", (x := hx(32)), f"const client = require('twilio')('AC{hx(32)}', '{x}');")
    S("hmac/encryption-key", (x := rs(48)), f"const secret = process.env.JWT_SECRET || '{x}';")
    S("vendor-key:npm", (x := "npm_" + rs(36)), f"//registry.npmjs.org/:_authToken={x}")
    S("bearer-token", (x := user_jwt()), f"    headers: {{ Accept: 'application/json, text/plain, */*', Authorization: 'Bearer {x}', 'User-Agent': 'axios/1.6.8' }},")
    S("hmac/encryption-key", (x := b64(32)), f"NEXTAUTH_SECRET={x}")
    S("cookie/session", (x := "s%3A" + rs(32, URLA) + "." + urllib.parse.quote(b64(32).rstrip("="), safe="")), f"Cookie: connect.sid={x}")

    # ---------------- Go ----------------
    S("password-kv", (x := pwa()), f"{ts()} INFO config loaded: {{DBHost:pg.ledger.svc DBUser:ledger DBPassword:{x} ListenAddr::8080 Debug:false}}")
    S("password-kv", (x := pw()), json.dumps({"level": "info", "ts": epoch() + 0.123, "caller": "server/main.go:88", "msg": "starting", "config": {"redis_addr": "redis:6379", "redis_password": x}}, separators=(",", ":")))
    S("dsn", (x := pwa()), f'dsn := "gorm:{x}@tcp(mysql.gorm.svc:3306)/gorm?charset=utf8mb4&parseTime=True&loc=Local"')
    S("dsn", (x := pwa()), f"{ts()} ERROR failed to connect: host=pg.ledger.svc port=5432 user=ledger password={x} dbname=ledger sslmode=require: dial tcp {ip()}:5432: i/o timeout")
    S("vendor-key:vault", (x := "hvs." + rs(24)), f'time="{ts()}" level=debug msg="vault login ok" token={x} ttl=768h')
    S("url-credential", (x := pwa()), f'FATAL: config validation failed: &config.Config{{Listen:":8080", DSN:"postgres://billing:{x}@pg.billing.svc:5432/billing?sslmode=disable", Debug:false}}')
    S("password-kv", "h#9!k@" + (x := rs(4)) + " zq", f'    Password: "h#9!k@{x} zq",')

    # ---------------- nginx / Envoy ----------------
    S("auth-header", (x := b64s(f"{user()}:{pwa()}")), f'        proxy_set_header Authorization "Basic {x}";')
    S("query-token", (x := rs(32, LOW)), f'{ts_ngerr()} [error] 29#29: *{R.randint(1000, 99999)} upstream timed out (110: Connection timed out) while reading response header from upstream, client: {ip()}, server: _, request: "POST /hooks/deploy?token={x} HTTP/1.1", upstream: "http://{ip()}:8080/hooks/deploy?token={x}"')
    S("bearer-token", (x := sa_jwt()), json.dumps({"start_time": ts(), "method": "GET", "path": "/api/v1/namespaces/ops/pods", "response_code": 200, "authorization": "Bearer " + x, "upstream_host": ip() + ":6443"}, separators=(",", ":")))
    S("password-kv", (x := rs(32)), f'"generic_secret": {{"secret": {{"inline_string": "{x}"}}}}')
    S("auth-header", (x := rs(40)), f"[{ts_ngerr().replace('/', '-')}.{R.randint(100,999)}][31][debug][http] [source/common/http/conn_manager_impl.cc:329] [C12][S{digits(19)}] request headers complete (end_stream=true): ':authority', 'api.internal' ':path', '/v2/charge' 'x-api-key', '{x}'")
    S("query-token", (x := digits(10) + ":AA" + rs(33, URLA)), f'{ip()} - - [{ts_ng()}] "POST /bot{x}/sendMessage HTTP/1.1" 200 412 "-" "python-telegram-bot"')

    # ---------------- kubectl ----------------
    S("k8s-secret-data", (x := b64s(pw())), f"  password: {x}")
    dc = json.dumps({"auths": {"registry.example.com": {"username": "ci", "password": pwa(), "auth": b64s("ci:" + pwa())}}}, separators=(",", ":"))
    S("k8s-secret-data", (x := b64s(dc)), f'        ".dockerconfigjson": "{x}"')
    S("vendor-key:stripe", (x := stripe_sk()), f"      STRIPE_SECRET_KEY:           {x}")
    S("url-credential", (x := pwa()), f"      value: postgres://app:{x}@pg-primary.data.svc:5432/app?sslmode=require")
    S("cli-flag", (x := pwa(32)), f"kubectl create secret generic api-creds --from-literal=api-key={x} -n payments")
    S("cli-flag", (x := pw()), f"kubectl create secret docker-registry regcred --docker-server=registry.example.com --docker-username=ci --docker-password='{x}' --docker-email=ci@example.com")
    S("k8s-secret-data", (x := b64s(rs(40))), f'    kubectl.kubernetes.io/last-applied-configuration: {{"apiVersion":"v1","data":{{"token":"{x}"}},"kind":"Secret","metadata":{{"annotations":{{}},"name":"webhook-token","namespace":"ci"}},"type":"Opaque"}}')
    S("jwt", (x := sa_jwt("kube-system", "cluster-admin-sa")), f"    token: {x}")
    S("pem-private-key", (x := b64s("-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(pem_lines(rsa_der())) + "\n-----END RSA PRIVATE KEY-----\n")), f"    client-key-data: {x}")
    S("cli-flag", (x := sa_jwt("ops", "deployer")), f"kubectl --server=https://{ip()}:6443 --token={x} get pods -A")
    S("password-kv", (x := pw()), f'  DB_PASSWORD: "{x}"')
    S("cli-flag", (x := rs(6, "abcdefghijklmnopqrstuvwxyz0123456789") + "." + rs(16, "abcdefghijklmnopqrstuvwxyz0123456789")), f"kubeadm join {ip()}:6443 --token {x} --discovery-token-ca-cert-hash sha256:{hx(64)}")
    S("hmac/encryption-key", (x := hx(64)), f"kubeadm join {ip()}:6443 --control-plane --certificate-key {x}")
    S("hmac/encryption-key", (x := b64(32)), f"              secret: {x}")
    S("k8s-secret-data", (x := b64s(gh_pat())), json.dumps({"apiVersion": "v1", "data": {"GITHUB_TOKEN": x}, "kind": "Secret", "metadata": {"name": "gh-token", "namespace": "ci"}}, separators=(",", ":")))
    S("k8s-secret-data", (x := b64s(pwa())), f'{{"data":{{"username":"{b64s("admin")}","password":"{x}"}}}}')
    S("k8s-secret-data", (x := b64s("postgres://app:" + pwa() + "@pg:5432/app")), f"  DATABASE_URL: {x}")

    # ---------------- Helm ----------------
    S("password-kv", (x := pw()), f'    rootPassword: "{x}"')
    S("cli-flag", (x := pwa()), f"helm upgrade --install redis bitnami/redis --set auth.password={x} -n cache --wait")
    S("password-kv", (x := pwa()), f"postgresql.auth.postgresPassword: {x}")
    S("vendor-key:datadog", (x := hx(32)), f"  apiKey: {x}")
    S("cli-flag", (x := pw()), f"argocd login argocd.example.com --username admin --password '{x}' --grpc-web")
    S("cli-flag", (x := hx(40)), f"helm install dd datadog/datadog --set datadog.appKey={x} --set datadog.site=datadoghq.eu")
    S("password-kv", (x := pwa()), f"  adminPassword: {x}")

    # ---------------- Terraform ----------------
    S("password-kv", (x := pw()), f'      + master_password                     = "{x}"')
    S("password-kv", (x := pw()), f'db_password = "{x}"')
    S("vendor-key:github", (x := gh_pat()), f'provider "github" {{ owner = "acme", token = "{x}" }}')
    S("cloud-credential", (x := aws_secret()), f'            "secret": "{x}",')
    S("vendor-key:cloudflare", (x := rs(40, URLA)), f"export TF_VAR_cloudflare_api_token={x}")
    S("password-kv", (x := pwa()), f'admin_password = "{x}"')
    S("pem-private-key", (x := pem_body(rsa_der())), f'private_key_pem = "-----BEGIN RSA PRIVATE KEY-----\\n{x}\\n-----END RSA PRIVATE KEY-----\\n"')

    # ---------------- CI logs ----------------
    S("cli-flag", (x := "dckr_pat_" + rs(27, URLA)), f"{ts_gh()} docker login -u ci-bot -p {x} docker.io")
    S("vendor-key:gitlab", (x := glpat()), f'$ curl --header "PRIVATE-TOKEN: {x}" "https://gitlab.example.com/api/v4/projects/42/jobs?scope=failed"')
    S("url-credential", (x := "glcbt-" + rs(2, "0123456789abcdef") + "_" + rs(20, URLA)), f"$ git clone https://gitlab-ci-token:{x}@gitlab.example.com/platform/hexabot.git")
    S("cli-flag", (x := pw()), f"+ curl -sf -u 'deploy:{x}' -T build/app.tar.gz https://nexus.internal/repository/raw/app/")
    S("vendor-key:vault", (x := "hvs.CAESI" + rs(84, URLA)), f"+ export VAULT_TOKEN={x}")
    S("cloud-credential", (x := aws_secret()), f"{ts_gh()}   AWS_SECRET_ACCESS_KEY: {x}")
    S("vendor-key:github", (x := "ghs_" + rs(36)), f"{ts_gh()} ##[debug]GITHUB_TOKEN for app installation {digits(8)} minted: {x} (expires in 3600s)")
    S("vendor-key:github", (x := gh_fine()), f"GH_TOKEN={x}")
    S("vendor-key:pypi", (x := "pypi-AgEIcHlwaS5vcmc" + rs(150, URLA)), f"{ts_gh()} TWINE_USERNAME=__token__ TWINE_PASSWORD={x} twine upload dist/*")
    S("vendor-key:gitlab", (x := "glrt-" + rs(20, URLA)), f'  token = "{x}"')
    S("vendor-key:sentry", (x := "sntryu_" + hx(64)), f"Running sentry-cli releases new -p web {hx(40)} with SENTRY_AUTH_TOKEN={x}")

    # ---------------- shell history ----------------
    S("cli-flag", (x := "P@" + rs(6) + "!#" + rs(4)), f"  512  mysql -h mysql.prod.svc -u root -p'{x}' -e 'SHOW DATABASES'")
    S("password-kv", (x := pwa()), f"  513  PGPASSWORD={x} psql -h pg-primary.data.svc -U postgres -c '\\l'")
    S("cli-flag", (x := pwa()), f"redis-cli -h redis-master.cache.svc -a {x} --no-auth-warning INFO replication")
    S("auth-header", (x := rs(32)), f'curl -s -H "X-API-Key: {x}" https://internal-api.example.com/v1/usage')
    S("vendor-key:openai", (x := openai_key()), f"export OPENAI_API_KEY={x}")
    S("cli-flag", (x := pw()), f"echo '{x}' | docker login -u bot --password-stdin registry.example.com")
    S("cli-flag", (x := pwa()), f"htpasswd -b -c /etc/nginx/.htpasswd admin {x}")
    S("url-credential", (x := pwq()), f'mongosh "mongodb://admin:{x}@mongo-0.mongo.data.svc:27017/?authSource=admin"')
    S("cli-flag", (x := pw()), f"sshpass -p '{x}' ssh -o StrictHostKeyChecking=no ops@{ip()}")
    S("vendor-key:vault", (x := "hvs." + rs(24)), f"vault login {x}")
    S("vendor-key:github", (x := "gho_" + rs(36)), f"gh auth login --with-token <<< {x}")
    S("cloud-credential", (x := b64(64)), f"az storage blob upload --account-name acmebackups --account-key {x} -c dumps -f pg.dump -n pg-{R.randint(1,28):02d}.dump")
    S("cloud-credential", (x := aws_secret()), f"aws configure set aws_secret_access_key {x} --profile prod")
    S("hmac/encryption-key", (x := hx(64)), f"openssl enc -aes-256-cbc -K {x} -iv {hx(32)} -in backup.tar -out backup.tar.enc")
    S("url-credential", (x := glpat()), f"git remote set-url origin https://oauth2:{x}@gitlab.com/acme/platform.git")
    S("cli-flag", (x := pw()), f"ldapsearch -x -H ldaps://ldap.corp.example -D 'cn=admin,dc=corp,dc=example' -w '{x}' -b 'ou=people,dc=corp,dc=example'")
    S("cli-flag", (x := pwa()), f"clickhouse-client --host clickhouse.analytics.svc --user default --password {x} --query 'SELECT 1'")
    S("cli-flag", (x := pwa()), f"cqlsh -u cassandra -p {x} cassandra.db.svc 9042")
    S("vendor-key:digitalocean", (x := "dop_v1_" + hx(64)), f"doctl auth init --access-token {x}")

    # ---------------- ps aux ----------------
    S("cli-flag", (x := pwa()), f"root        4321  0.3  1.2 812340 49212 ?        Ssl  10:02   0:12 /usr/bin/node /app/worker.js --redis-password={x}")
    S("cli-flag", (x := pwa()), f"1001          1  0.2  0.4  62120 15872 ?        Ssl  08:11   1:47 redis-server *:6379 --requirepass {x} --appendonly yes")
    S("cli-flag", (x := aws_secret()), f"1000          55  9.8  2.1 1294812 88412 ?       Sl   03:00   4:12 /usr/bin/rclone sync /data s3remote:backups --s3-access-key-id {aws_id()} --s3-secret-access-key {x}")
    S("cli-flag", (x := rs(44)), f"nobody        12  0.0  0.3  741212 24112 ?       Sl   Apr30   0:33 /bin/oauth2-proxy --provider=oidc --client-id=grafana --client-secret={x} --cookie-secret={b64(32)}")
    S("cli-flag", (x := b64u(32)), f"nobody        13  0.0  0.3  741212 24140 ?       Sl   Apr30   0:31 /bin/oauth2-proxy --upstream=http://127.0.0.1:3000 --cookie-secret={x}")

    # ---------------- crash dumps / stack traces ----------------
    S("password-kv", (x := pw()), f"sentry frame locals: {{'request': <WSGIRequest: POST '/api/charge'>, 'api_key': '{x}', 'amount': 1999}}")
    S("password-kv", (x := pw()), f"Uncaught TypeError: Cannot read properties of undefined (reading 'host') {{ config: {{ user: 'api', password: '{x}' }} }}")
    S("url-credential", (x := pwa()), f'Config {{ database_url: "postgres://rust_svc:{x}@pg.data.svc/rust_svc", jwt_secret: "<unset>", port: 8080 }}')
    S("hmac/encryption-key", (x := rs(48)), f'Error: invalid config Config {{ listen: "0.0.0.0:8080", jwt_secret: "{x}", log_level: Info }}')
    S("hmac/encryption-key", (x := b64(32)), f"APP_KEY=base64:{x}")
    S("password-kv", (x := pw()), f"panic: runtime error: invalid memory address or nil pointer dereference [recovered] cfg=map[mq_pass:{x} mq_user:orders]")
    S("password-kv", (x := pw()), f"  File \"/app/billing/client.py\", line 41, in __init__ self.session.auth = ('billing', '{x}')")

    # ---------------- HTTP dumps / auth schemes ----------------
    S("auth-header", (x := b64s(f"admin:{pw()}")), f"> Authorization: Basic {x}")
    S("cookie/session", (x := rs(32, LOW)), f"< Set-Cookie: sessionid={x}; expires=Fri, 17 May 2024 10:11:12 GMT; HttpOnly; Max-Age=1209600; Path=/; SameSite=Lax")
    S("cookie/session", (x := rs(32, LOW)), f"Cookie: csrftoken={rs(32)}; sessionid={x}; django_language=en")
    S("auth-header", (x := hx(32)), f'Authorization: Digest username="admin", realm="api@example.com", nonce="{hx(32)}", uri="/v1/config", qop=auth, nc=00000001, cnonce="{hx(8)}", response="{x}", opaque="{hx(32)}"')
    S("auth-header", (x := "YIIGhgYGKwYBBQUCoIIGejCCBnagMDAuBgkqhkiC9xIBAgIGCSqGSIb3EgECAgYKKwYBBAGCNwICHgYKKwYBBAGCNwICCqKCBkAEggY8" + b64(240)), f"Authorization: Negotiate {x}")
    S("auth-header", (x := "TlRMTVNTUAADAAAAGAAYAHgAAAA" + b64(150)), f"Authorization: NTLM {x}")
    S("vendor-key:github", (x := gh_pat()), f"Authorization: token {x}")
    S("vendor-key:discord", (x := base64.b64encode(digits(19).encode()).decode().rstrip("=") + "." + rs(6, URLA) + "." + rs(38, URLA)), f"Authorization: Bot {x}")
    S("vendor-key:okta", (x := "00" + rs(40, URLA)), f"Authorization: SSWS {x}")
    S("auth-header", (x := b64s(rs(20, URLA) + ":" + rs(22, URLA))), f"Authorization: ApiKey {x}")
    S("auth-header", (x := hx(40)), f"Authorization: Token {x}")
    S("bearer-token", (x := user_jwt()), f"Authorization: Bearer {x}")
    S("auth-header", (x := b64s(f"proxyuser:{pwa()}")), f"Proxy-Authorization: Basic {x}")
    S("auth-header", (x := uid()), f"Authorization: Splunk {x}")
    S("vendor-key:firebase", (x := "AAAA" + rs(7, URLA) + ":APA91b" + rs(134, URLA)), f"Authorization: key={x}")
    S("auth-header", (x := b64(32)), f'Authorization: Hawk id="dh37fgj492je", ts="{epoch()}", nonce="{rs(6)}", ext="", mac="{x}"')
    S("vendor-key:vault", (x := "hvs." + rs(24)), f"X-Vault-Token: {x}")
    S("vendor-key:shopify", (x := "shpat_" + hx(32)), f"X-Shopify-Access-Token: {x}")
    S("vendor-key:datadog", (x := hx(32)), f"DD-API-KEY: {x}")
    S("auth-header", (x := "gAAAAA" + rs(180, URLA)), f"X-Auth-Token: {x}")
    S("vendor-key:sentry", (x := hx(32)), f"X-Sentry-Auth: Sentry sentry_version=7, sentry_client=sentry.python/1.40.0, sentry_key={x}")
    S("vendor-key:anthropic", (x := anthropic_key()), f"x-api-key: {x}")
    S("vendor-key:newrelic", (x := "NRAK-" + rs(27, UP)), f"Api-Key: {x}")
    S("auth-header", (x := "ya29.a0" + rs(150, URLA)), f"Authorization: OAuth {x}")
    S("vendor-key:cloudflare", (x := hx(37)), f"X-Auth-Key: {x}")
    S("auth-header", (x := b64s(f"api:{'key-' + hx(32)}")), f"> authorization: Basic {x}")
    S("auth-header", (x := rs(64)), f"Authorization: Bearer {x}")

    # ---------------- cookies / sessions ----------------
    S("cookie/session", (x := HX(32)), f"Cookie: JSESSIONID={x}; Path=/; Secure")
    S("cookie/session", (x := rs(26, "abcdefghijklmnopqrstuv0123456789")), f"Set-Cookie: PHPSESSID={x}; path=/; HttpOnly")
    S("cookie/session", (x := b64(150)), f"Set-Cookie: laravel_session={x}; expires=Sat, 04-May-2024 12:00:00 GMT; Max-Age=7200; path=/; httponly; samesite=lax")
    S("jwt", (x := user_jwt()), f"cookie: access_token={x}; theme=dark")
    S("cookie/session", (x := rs(43, URLA)), f'{ip()} - - [{ts_ng()}] "GET /dashboard HTTP/1.1" 200 18231 "-" "Mozilla/5.0" cookie="_oauth2_proxy={x}"')
    S("cookie/session", (x := hx(64)), f"grafana_session={x}")

    # ---------------- SQL / DB connection errors & DSNs ----------------
    S("url-credential", (x := pwa()), f"{ts()} ERROR sqlx::pool::inner: error connecting to postgres://reporting:{x}@pg-replica.data.svc:5432/reporting: Connection refused (os error 111)")
    S("dsn", (x := pwa()), f"Server=tcp:acme-sql.database.windows.net,1433;Initial Catalog=app;Persist Security Info=False;User ID=sqladmin;Password={x};Encrypt=True;Connection Timeout=30;")
    S("dsn", (x := pwa()), f"ORA-01017: invalid username/password; logon denied -- while running: sqlplus system/{x}@//oracle.erp.svc:1521/XEPDB1")
    S("url-credential", (x := pwa()), f"REDIS_URL=rediss://default:{x}@eu1-brave-kite-31337.upstash.io:6379")
    S("url-credential", (x := pwa()), f"{ts_py()} ERROR kombu.connection: Connection to broker lost amqps://orders:{x}@b-{uid()}.mq.us-east-1.amazonaws.com:5671")
    S("url-credential", (x := urllib.parse.quote(pw(), safe="")), f'ELASTICSEARCH_HOSTS=["https://elastic:{x}@es-http.logging.svc:9200"]')
    S("vendor-key:sendgrid", (x := "SG." + rs(22, URLA) + "." + rs(43, URLA)), f"EMAIL_URL=smtp://apikey:{x}@smtp.sendgrid.net:587")
    S("url-credential", (x := pwa()), f"lftp -e 'mirror --reverse out/ /outgoing' ftp://backup:{x}@ftp.partner.example.com")
    S("url-credential", (x := pwa()), f"[{ts()}] [ERR] nats: authorization violation on connection to nats://orders:{x}@nats.messaging.svc:4222")
    S("vendor-key:influxdb", (x := b64u(64) + "=="), f"INFLUX_TOKEN={x}")
    S("url-credential", (x := pwa()), f"pg.db.svc:5432:*:app:{x}")
    S("password-kv", (x := pw()), f"machine api.heroku.com login ops@example.com password {x}")
    S("url-credential", (x := pwa()), f"index-url = https://deploy:{x}@pypi.corp.example.com/simple/")
    S("url-credential", (x := gh_pat()), f"https://acme-bot:{x}@github.com")
    S("url-credential", (x := pwa()), f"SQLALCHEMY_DATABASE_URI=mssql+pyodbc://sa:{x}@mssql.sql.svc:1433/app?driver=ODBC+Driver+18+for+SQL+Server")
    S("url-credential", (x := pwa()), f"clickhouse://default:{x}@clickhouse.analytics.svc:9000/events?dial_timeout=200ms")
    S("url-credential", (x := pwa()), f"{ts()} WARN  [memcached] sasl auth failed for memcached://cache:{x}@memcached.cache.svc:11211")
    S("url-credential", (x := pwa()), f"LDAP_URL=ldap://cn=readonly:{x}@openldap.auth.svc:389")

    # ---------------- cloud CLIs ----------------
    S("cloud-credential", (x := aws_session()), f'        "SessionToken": "{x}",')
    S("cloud-credential", (x := aws_secret()), f'        "SecretAccessKey": "{x}",')
    S("cloud-credential", (x := aws_id()), f"aws_access_key_id = {x}")
    S("cloud-credential", (x := aws_secret()), f"aws_secret_access_key = {x}")
    S("cloud-credential", (x := "ya29.a0" + rs(170, URLA)), f"$ gcloud auth print-access-token => {x}")
    S("pem-private-key", (x := pem_body(rsa_der())), f'  "private_key": "-----BEGIN PRIVATE KEY-----\\n{x}\\n-----END PRIVATE KEY-----\\n",')
    S("cloud-credential", (x := "1//0" + rs(100, URLA)), f'  "refresh_token": "{x}",')
    S("cloud-credential", (x := b64(64)), f"AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=https;AccountName=acmelogs;AccountKey={x};EndpointSuffix=core.windows.net")
    S("cloud-credential", (x := urllib.parse.quote(b64(32), safe="")), f"Downloading https://acmebackups.blob.core.windows.net/backups/db.tar.gz?sv=2022-11-02&ss=b&srt=co&sp=rl&se=2024-06-01T00:00:00Z&st=2024-05-01T00:00:00Z&spr=https&sig={x}")
    S("cloud-credential", (x := b64(32)), f"Endpoint=sb://acme-events.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={x}")
    S("cloud-credential", (x := rs(3) + "8Q~" + rs(34, AL + "~._-")), f'  "password": "{x}",')
    S("cloud-credential", (x := rs(3) + "8Q~" + rs(34, AL + "~._-")), f"ARM_CLIENT_SECRET={x}")
    S("cloud-credential", (x := "AIza" + rs(35, URLA)), f"GOOGLE_MAPS_API_KEY=AIza{x[4:]}")
    S("vendor-key:heroku", (x := "HRKU-" + rs(60, URLA)), f"HEROKU_API_KEY={x}")
    S("vendor-key:heroku", (x := uid()), f"heroku config:set -a acme-web HEROKU_API_KEY={x}")
    S("cloud-credential", (x := b64(64)), f'az storage account keys list output: [{{"keyName": "key1", "permissions": "FULL", "value": "{x}"}}]')

    # ---------------- vendor keys (assorted contexts) ----------------
    S("vendor-key:stripe", (x := "whsec_" + rs(32)), f"STRIPE_WEBHOOK_SECRET={x}")
    S("vendor-key:stripe", (x := "rk_live_" + rs(99)), f"  stripeRestrictedKey: {x}")
    S("vendor-key:slack", (x := slack_xoxp()), f'curl -s -X POST -H "Authorization: Bearer {x}" https://slack.com/api/chat.postMessage -d channel=C0123ABCD')
    S("vendor-key:slack", (x := f"xapp-1-A{rs(10, UP)}-{digits(13)}-{hx(64)}"), f"SLACK_APP_TOKEN={x}")
    S("vendor-key:slack", (x := rs(24)), f"SLACK_WEBHOOK_URL=https://hooks.slack.com/services/T{rs(8, UP)}/B{rs(10, UP)}/{x}")
    S("vendor-key:github", (x := "gho_" + rs(36)), f"    oauth_token: {x}")
    S("vendor-key:github", (x := "ghr_" + rs(76)), f'{{"access_token":"ghu_{rs(36)}","expires_in":28800,"refresh_token":"{x}","token_type":"bearer"}}')
    S("vendor-key:gitlab", (x := "gldt-" + rs(20, URLA)), f"helm repo add internal https://gitlab.example.com/api/v4/projects/42/packages/helm/stable --username deploy-token --password {x}")
    S("vendor-key:anthropic", (x := anthropic_key()), f"ANTHROPIC_API_KEY={x}")
    S("vendor-key:openai", (x := openai_key()), json.dumps({"openai": {"apiKey": x, "model": "gpt-4o", "timeout": 30}}))
    S("vendor-key:twilio", (x := hx(32)), f"TWILIO_AUTH_TOKEN={x}")
    S("vendor-key:mailgun", (x := "key-" + hx(32)), f"curl -s --user 'api:{x}' https://api.mailgun.net/v3/mg.example.com/messages -F to=ops@example.com")
    S("vendor-key:datadog", (x := hx(40)), f"DD_APP_KEY={x}")
    S("vendor-key:newrelic", (x := hx(36) + "NRAL"), f"NEW_RELIC_LICENSE_KEY={x}")
    S("vendor-key:sentry", (x := hx(32)), f"SENTRY_DSN=https://{x}@o{digits(6)}.ingest.sentry.io/{digits(7)}")
    S("vendor-key:vault", (x := b64(33)), f"Unseal Key 1: {x}")
    S("vendor-key:vault", (x := "hvs." + rs(24)), f"Initial Root Token: {x}")
    S("vendor-key:npm", (x := "npm_" + rs(36)), f'{ts_gh()} Run echo "//npm.pkg.example.com/:_authToken={x}" >> ~/.npmrc')
    S("vendor-key:dockerhub", (x := "dckr_pat_" + rs(27, URLA)), f'{{"auths":{{"https://index.docker.io/v1/":{{"username":"acmeci","password":"{x}"}}}}}}')
    S("vendor-key:shopify", (x := "shpss_" + hx(32)), f"SHOPIFY_API_SECRET={x}")
    S("vendor-key:square", (x := "EAAA" + rs(60, URLA)), f"SQUARE_ACCESS_TOKEN={x}")
    S("vendor-key:square", (x := "sq0csp-" + rs(43, URLA)), f"square:\n  applicationSecret: {x}".split("\n")[1])
    S("vendor-key:braintree", (x := "access_token$production$" + rs(16, LOW) + "$" + hx(32)), f"BRAINTREE_ACCESS_TOKEN='{x}'")
    S("vendor-key:braintree", (x := hx(32)), f"braintree.Configuration.configure(braintree.Environment.Production, merchant_id='{rs(16, LOW)}', public_key='{rs(16, LOW)}', private_key='{x}')")
    S("vendor-key:paypal", (x := "E" + rs(79, URLA)), f"PAYPAL_CLIENT_SECRET={x}")
    S("vendor-key:discord", (x := base64.b64encode(digits(18).encode()).decode().rstrip("=") + "." + rs(6, URLA) + "." + rs(27, URLA)), f"bot.run('{x}')")
    S("vendor-key:telegram", (x := digits(10) + ":AA" + rs(33, URLA)), f"TELEGRAM_BOT_TOKEN={x}")
    S("vendor-key:firebase", (x := rs(40)), f"https://acme-prod-default-rtdb.firebaseio.com/users.json?auth={x}")
    S("vendor-key:okta", (x := rs(40, URLA)), f"okta.oauth2.client-secret={x}")
    S("vendor-key:auth0", (x := rs(64, URLA)), f"AUTH0_CLIENT_SECRET={x}")
    S("vendor-key:auth0", (x := rs(64, URLA)), json.dumps({"domain": "acme.eu.auth0.com", "clientId": rs(32), "clientSecret": x}))
    S("vendor-key:cloudflare", (x := rs(40, URLA)), f"dns_cloudflare_api_token = {x}")
    S("vendor-key:digitalocean", (x := "dop_v1_" + hx(64)), f"  digitalocean_token: {x}")
    S("vendor-key:linear", (x := "lin_api_" + rs(40)), f"LINEAR_API_KEY={x}")
    S("vendor-key:notion", (x := "secret_" + rs(43)), f'const notion = new Client({{ auth: "{x}" }});')
    S("vendor-key:notion", (x := "ntn_" + rs(46)), f"NOTION_TOKEN={x}")
    S("vendor-key:atlassian", (x := "ATATT3xFfGF0" + rs(170, URLA) + "=" + HX(8)), f"curl -u ops@example.com:{x} https://acme.atlassian.net/rest/api/3/myself")
    S("vendor-key:atlassian", (x := "ATATT3xFfGF0" + rs(170, URLA) + "=" + HX(8)), f"JIRA_API_TOKEN={x}")
    S("vendor-key:grafana", (x := "glsa_" + rs(32) + "_" + hx(8)), f"GRAFANA_SA_TOKEN={x}")
    S("vendor-key:postman", (x := "PMAK-" + hx(24) + "-" + hx(34)), f"POSTMAN_API_KEY={x}")
    S("vendor-key:pulumi", (x := "pul-" + hx(40)), f"PULUMI_ACCESS_TOKEN={x}")

    # ---------------- JWTs ----------------
    S("jwt", (x := jwt({"iss": "supabase", "ref": rs(20, LOW), "role": "service_role", "iat": epoch(), "exp": epoch() + 10 ** 8}, alg="HS256", sigbytes=32, kid=False)), f"SUPABASE_SERVICE_ROLE_KEY={x}")
    S("jwt", (x := sa_jwt("monitoring", "prometheus")), f'{{"kind":"TokenRequest","apiVersion":"authentication.k8s.io/v1","status":{{"token":"{x}","expirationTimestamp":"{ts()}"}}}}')
    S("jwt", (x := user_jwt()), f'{ts()} INFO auth: issued id_token={x} for sub=4471')

    # ---------------- PEM / SSH private keys ----------------
    S("pem-private-key", (x := pem_body(ec_der())), f'{{"tls.crt":"LS0tLS1CRUdJTi...","tls.key":"-----BEGIN EC PRIVATE KEY-----\\n{x}\\n-----END EC PRIVATE KEY-----\\n"}}')
    S("ssh-private-key", (x := pem_body(ossh_blob())), f'  "ssh-privatekey": "-----BEGIN OPENSSH PRIVATE KEY-----\\n{x}\\n-----END OPENSSH PRIVATE KEY-----\\n"')
    S("ssh-private-key", (x := base64.b64encode(ossh_blob()).decode()), f"{ts_gh()} SSH_PRIVATE_KEY=-----BEGIN OPENSSH PRIVATE KEY----- {x} -----END OPENSSH PRIVATE KEY-----")
    S("pem-private-key", (x := pem_body(rsa_der())), f'    key: "-----BEGIN PRIVATE KEY-----\\n{x}\\n-----END PRIVATE KEY-----"')
    S("k8s-secret-data", (x := b64s("-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(pem_lines(ossh_blob())) + "\n-----END OPENSSH PRIVATE KEY-----\n")), f"  sshPrivateKey: {x}")

    # ---------------- HMAC / encryption keys under secret-like keys ----------------
    S("hmac/encryption-key", (x := hx(64)), f"WEBHOOK_SIGNING_SECRET={x}")
    S("hmac/encryption-key", (x := b64(32)), f"encryption_key: {x}")
    S("hmac/encryption-key", (x := hx(40)), f'hmac_key = "{x}"')
    S("hmac/encryption-key", (x := b64(64)), f"  signingKey: {x}")
    S("hmac/encryption-key", (x := rs(32)), f"secret_key = {x}")
    S("hmac/encryption-key", (x := hx(32)), f'{{"aes_key":"{x}","mode":"GCM"}}')
    S("hmac/encryption-key", (x := b64(24)), f"MASTER_KEY={x}")
    S("hmac/encryption-key", (x := hx(64)), f"session_secret: \"{x}\"")
    S("hmac/encryption-key", (x := b64(32)), f"<add key=\"EncryptionKey\" value=\"{x}\" />")
    S("hmac/encryption-key", (x := rs(32)), f"  server.secretkey: {x}")
    S("hmac/encryption-key", (x := hx(64)), f"{ts()} DEBUG webhook verify: computed=sha256={hx(64)} using secret={x}")

    # ---------------- passwords under many key spellings / languages ----------------
    S("password-kv", (x := pw()), f"GF_SECURITY_ADMIN_PASSWORD={x}")
    S("password-kv", (x := pwa()), f"KEYCLOAK_ADMIN_PASSWORD={x}")
    S("password-kv", (x := pwa(40)), f"MINIO_ROOT_PASSWORD={x}")
    S("password-kv", (x := pwa()), f"      - name: HARBOR_ADMIN_PASSWORD\n        value: \"{x}\"".split("\n")[1])
    S("password-kv", (x := pw()), f"passwd: {x}")
    S("password-kv", (x := pw()), f"pwd={x}")
    S("password-kv", (x := pwa()), f"requirepass {x}")
    S("password-kv", (x := pwa()), f"masterauth {x}")
    S("password-kv", (x := pwa()), f"    auth_pass {x}")
    S("password-kv", (x := pw()), f'conn %default\n  : PSK "{x}"'.split("\n")[1])
    S("password-kv", (x := pw()), f"  smtp_auth_password: '{x}'")
    S("password-kv", (x := pwa()), f"bind_password = {x}")
    S("password-kv", (x := pw()), f"    passphrase: \"{x}\"")
    S("password-kv", (x := pwa()), f"storePassword={x}")
    S("password-kv", (x := pwa()), f"keyPassword={x}")
    S("password-kv", (x := pwa()), f"ossrhPassword={x}")
    S("password-kv", (x := pw()), f"[client]\npassword={x}".split("\n")[1] + "  # ~/.my.cnf")
    S("password-kv", (x := pw()), f'password = "{x}"')
    S("password-kv", (x := pw()), f"  db_pass: \"{x}\"")
    S("password-kv", (x := pw()), f"$databases['default']['default']['password'] = '{x}';")
    S("password-kv", (x := pw()), f"define( 'DB_PASSWORD', '{x}' );")
    S("password-kv", (x := pw()), f'"adminPass": "{x}",')
    S("password-kv", (x := pwa()), f"rootpw {x}")
    S("password-kv", "it''s-A-" + (x := rs(6)) + "!", f"  password: 'it''s-A-{x}!'")
    S("password-kv", "p@ss \\\"w0rd\\\" #" + (x := digits(3)), f'{{"username":"svc","password":"p@ss \\"w0rd\\" #{x}"}}')
    S("password-kv", "50% off#deal@" + (x := rs(5)), f'password = "50% off#deal@{x}"')
    S("password-kv", (x := "Tr0ub4dor&3 %" + rs(4) + "!"), f'    conn = psycopg2.connect(host="pg", user="etl", password="{x}")')
    S("password-kv", (x := pwa()), f"DB_PASSWORT={x}")
    S("password-kv", (x := pw()), f"contrasena: \"{x}\"")
    S("password-kv", (x := pwa()), f"mot_de_passe={x}")
    S("password-kv", (x := pw()), f"  senha: '{x}'")
    S("password-kv", (x := pwa()), f'{{"пароль": "{x}", "пользователь": "admin"}}')
    S("password-kv", (x := pwa()), f"kennwort = {x}")
    S("password-kv", (x := pwa()), f"wachtwoord: {x}")
    S("password-kv", (x := pwa()), f"salasana={x}")
    S("bearer-token", (x := rs(48, URLA)), f"accessToken: {x}")
    S("bearer-token", (x := rs(40)), f"auth_token = '{x}'")
    S("bearer-token", (x := rs(36)), f"  authToken: \"{x}\"")
    S("bearer-token", (x := rs(64, URLA)), f'"refresh_token": "{x}"')
    S("bearer-token", (x := rs(30)), f"private_token={x}")
    S("oauth-client-secret", (x := rs(40, URLA)), f"client_secret: {x}")
    S("oauth-client-secret", (x := rs(35, URLA)), f'clientSecret = "{x}"')
    S("oauth-client-secret", (x := rs(50)), f"CONSUMER_SECRET={x}")
    S("oauth-client-secret", (x := rs(45)), f"twitter.access_token_secret={x}")
    S("oauth-client-secret", (x := hx(32)), f"  app_secret: {x}")
    S("api-key-generic", (x := rs(32)), f"apiKey: {x}")
    S("api-key-generic", (x := rs(40, URLA)), f"API-KEY={x}")
    S("api-key-generic", (x := hx(48)), f"X_API_KEY={x}")
    S("api-key-generic", (x := rs(32)), f'apikey = "{x}"')
    S("api-key-generic", (x := rs(24)), f"let api_key = \"{x}\";")
    S("api-key-generic", (x := rs(40)), f'String apiSecret = "{x}";')
    S("api-key-generic", (x := rs(32)), f"API_KEY = '{x}'")
    S("api-key-generic", (x := rs(36)), f"  credentials: {x}")
    S("api-key-generic", (x := rs(30)), f'    "sessionKey": "{x}",')
    S("password-kv", (x := pwa()), f"rpcpassword={x}")
    S("password-kv", (x := pw()), f"{ts()} INFO Creating user account: username=oncall, password={x}, roles=[admin]")
    S("password-kv", (x := pw()), f"Generated admin password: {x}")
    S("password-kv", (x := pwa()), f"  argocd-initial-admin-secret password: {x}")
    S("cli-flag", (x := pw()), f"ansible-playbook site.yml -e 'ansible_become_pass={x}' -i inventory/prod")
    S("cli-flag", (x := pwa()), f"mysqldump --user=backup --password={x} --single-transaction shop > shop.sql")
    S("cli-flag", (x := pwa()), f"docker run -e POSTGRES_PASSWORD={x} -p 5432:5432 postgres:16")
    S("cli-flag", (x := pwa()), f"psql \"host=pg.data.svc dbname=app user=app password={x} sslmode=verify-full\"")
    S("cli-flag", (x := rs(40)), f"terraform apply -var 'datadog_api_key={hx(32)}' -var 'vault_token=hvs.{x}'")
    SEC[-1] = ("vendor-key:vault", "hvs." + x, SEC[-1][2])
    S("password-kv", (x := pwa()), f"<add name=\"Default\" connectionString=\"Data Source=sql01;Initial Catalog=Shop;User Id=shop;Password={x};\" providerName=\"System.Data.SqlClient\" />")
    S("password-kv", (x := pw()), f"Password: \"{x}\" # from 1Password export")


# ================================================================== HARMLESS
HAR = []


def H(cat, line):
    HAR.append((cat, line))


def build_harmless():
    # image digests / container ids
    H("image-digest", f"    image: ghcr.io/acme/{app()}@sha256:{hx(64)}")
    H("image-digest", f"    Image ID:       docker.io/library/nginx@sha256:{hx(64)}")
    H("image-digest", f"{ts()} containerd: PullImage \"registry.k8s.io/pause:3.9\" returns image reference \"sha256:{hx(64)}\"")
    H("image-digest", f"  Normal  Pulled     2m14s  kubelet  Successfully pulled image \"ghcr.io/acme/{app()}:1.14.2\" in 1.312s (1.312s including waiting). Image size: {R.randint(10**7, 10**8)} bytes.")
    H("image-digest", f"{ts_gh()} #7 exporting manifest sha256:{hx(64)} done")
    H("image-digest", f"{ts_gh()} #7 writing image sha256:{hx(64)} done")
    H("image-digest", f"Digest: sha256:{hx(64)}")
    H("image-digest", f"{hx(12)}: Pull complete")
    H("image-digest", f"{hx(12)}: Pulling fs layer")
    H("container-id", f"    Container ID:   containerd://{hx(64)}")
    H("container-id", f"    Container ID:   cri-o://{hx(64)}")
    H("container-id", f"{hx(12)}   ghcr.io/acme/{app()}:2.3.1   \"/app/server\"   3 hours ago   Up 3 hours   0.0.0.0:8080->8080/tcp   {app()}-1")
    H("container-id", f"  containerStatuses: - containerID: containerd://{hx(64)}")
    # uids / resource versions
    H("k8s-metadata", f"  uid: {uid()}")
    H("k8s-metadata", f'  resourceVersion: "{R.randint(10**6, 10**9)}"')
    H("k8s-metadata", f"    uid: {uid()}")
    H("k8s-metadata", f'{{"metadata":{{"name":"{pod()}","namespace":"{ns()}","uid":"{uid()}","resourceVersion":"{R.randint(10**6, 10**9)}","creationTimestamp":"{ts()[:19]}Z"}}}}')
    H("k8s-metadata", f"  generation: {R.randint(1, 40)}")
    H("k8s-metadata", f"    pod-template-hash: {rs(10, K8S)}")
    H("k8s-metadata", f"    controller-revision-hash: {app()}-{rs(10, K8S)}")
    H("k8s-metadata", f"    kubernetes.io/service-account.uid: {uid()}")
    H("k8s-metadata", f"  ownerReferences: [{{apiVersion: apps/v1, kind: ReplicaSet, name: {app()}-{rs(10, K8S)}, uid: {uid()}, controller: true}}]")
    H("k8s-metadata", f"    deployment.kubernetes.io/revision: \"{R.randint(2, 90)}\"")
    # commit SHAs
    H("commit-sha", f"commit {hx(40)}")
    H("commit-sha", f"{hx(7)} Fix flaky retry in {app()} client (#{R.randint(100, 4000)})")
    H("commit-sha", f"{hx(7)} (HEAD -> main, origin/main) Bump chart version to 1.{R.randint(0, 30)}.{R.randint(0, 9)}")
    H("commit-sha", f"Merge: {hx(7)} {hx(7)}")
    H("commit-sha", f"GITHUB_SHA={hx(40)}")
    H("commit-sha", f"{ts_gh()} HEAD is now at {hx(7)} Merge pull request #{R.randint(100, 4000)} from acme/feat/rollout-status")
    H("commit-sha", f"CI_COMMIT_SHA: {hx(40)}")
    H("commit-sha", f"    image: registry.example.com/acme/{app()}:sha-{hx(40)}")
    H("commit-sha", f"    image: ghcr.io/acme/{app()}:{hx(7)}")
    H("commit-sha", f"Sync Revision: {hx(40)}")
    H("commit-sha", f"[Pipeline] echo Building revision {hx(40)} on agent k8s-{rs(5, K8S)}")
    H("commit-sha", f"Checking out Revision {hx(40)} (refs/remotes/origin/main)")
    H("commit-sha", f" > git rev-list --no-walk {hx(40)} # timeout=10")
    H("commit-sha", f"  app.kubernetes.io/version: \"{hx(7)}\"")
    H("commit-sha", f"{hx(40)} refs/tags/v2.{R.randint(0, 9)}.{R.randint(0, 20)}")
    # trace / request ids
    H("trace-id", f"traceparent: 00-{hx(32)}-{hx(16)}-01")
    H("trace-id", f"X-Request-Id: {uid()}")
    H("trace-id", f"x-b3-traceid: {hx(32)}")
    H("trace-id", json.dumps({"level": "info", "msg": "request completed", "trace_id": hx(32), "span_id": hx(16), "status": 200, "duration_ms": R.randint(1, 900)}))
    H("trace-id", f"X-Amzn-Trace-Id: Root=1-{hx(8)}-{hx(24)}")
    H("trace-id", f"cf-ray: {hx(16)}-FRA")
    H("trace-id", f"x-amz-request-id: {HX(16)}")
    H("trace-id", f"x-amz-id-2: {b64(48)}")
    H("trace-id", f'{ip()} - - [{ts_ng()}] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.29" rt=0.001 req_id={hx(32)}')
    H("trace-id", f"[{ts_ngerr().replace('/', '-')}.{R.randint(100,999)}Z] \"GET /api/v1/items HTTP/1.1\" 200 - 0 5321 12 11 \"{ip()}\" \"Go-http-client/1.1\" \"{uid()}\" \"{app()}.{ns()}.svc:8080\" \"{ip()}:8080\"")
    H("trace-id", f"{ts_py()} INFO request_id={uid()} path=/api/orders status=201 duration=0.043")
    H("trace-id", f"{ts_sp()}  INFO 1 --- [nio-8080-exec-7] [{hx(32)},{hx(16)}] c.a.o.OrderController : created order {digits(8)}")
    H("trace-id", f"I{R.randint(1000,1231)} 10:22:01.{R.randint(100000,999999)}       1 trace.go:236] Trace[{digits(9)}]: \"Update\" url:/api/v1/namespaces/{ns()}/configmaps/leader,user-agent:kube-controller-manager,audit-id:{uid()} (total time: 612ms)")
    H("trace-id", f"X-GitHub-Request-Id: {HX(4)}:{HX(5)}:{HX(7)}:{HX(7)}:{HX(8)}")
    H("trace-id", f"Celery task {uid()} succeeded in 0.{R.randint(10, 999)}s: None")
    H("trace-id", f"[{ts_py()}: INFO/ForkPoolWorker-3] Task reports.tasks.build_daily[{uid()}] received")
    H("trace-id", f"{ts()} INFO  [airflow.task] Dependencies all met for dep_context=non-requeueable deps ti=<TaskInstance: etl.load scheduled__{ts()[:19]}+00:00 [queued]> run_id={uid()}")
    H("trace-id", f"{ts_sp()} INFO [Consumer clientId=consumer-orders-1, groupId=orders] Setting offset for partition orders-3 to the committed offset FetchPosition{{offset={R.randint(10**5, 10**8)}, offsetEpoch=Optional[{R.randint(1, 40)}]}}")
    # checksums / etags
    H("checksum", f"{hx(64)}  hexabot-linux-amd64.tar.gz")
    H("checksum", f"        checksum/config: {hx(64)}")
    H("checksum", f"        checksum/secret: {hx(64)}")
    H("checksum", f"ETag: \"{hx(40)}\"")
    H("checksum", f"ETag: W/\"{hx(2)}-{rs(27, URLA)}\"")
    H("checksum", f'      "integrity": "sha512-{b64(64)}",')
    H("checksum", f"github.com/spf13/cobra v1.8.0 h1:{b64(32)}")
    H("checksum", f"md5sum: {hx(32)}  backup-2024-05-03.sql.gz")
    H("checksum", f"x-goog-hash: crc32c={b64(4)}, md5={b64(16)}")
    H("checksum", f"Content-MD5: {b64(16)}")
    H("checksum", f"oid sha256:{hx(64)}")
    H("checksum", f"  digest: sha256:{hx(64)}")
    H("checksum", f"    helm.sh/chart-digest: {hx(64)}")
    H("checksum", f'  "sha": "{hx(40)}",')
    H("checksum", f"  terraform_version = \"1.7.5\"  # lock hash h1:{b64(32)}")
    # CA / public keys / fingerprints
    H("public-cert/key", f"    caBundle: {b64s(cert_pem_text())}")
    H("public-cert/key", f"    certificate-authority-data: {b64s(cert_pem_text())}")
    H("public-cert/key", '  "ca.crt": "' + cert_pem_text().replace("\n", "\\n") + '"')
    H("public-cert/key", f"{ssh_pub_ed()} deploy@ci")
    H("public-cert/key", f"{ssh_pub_rsa()} ops@laptop")
    H("public-cert/key", f"github.com {ssh_pub_ed()}")
    H("public-cert/key", f"256 SHA256:{b64(32).rstrip('=')} deploy@ci (ED25519)")
    H("public-cert/key", f"ECDSA key fingerprint is SHA256:{b64(32).rstrip('=')}.")
    H("public-cert/key", f"gpg: Signature made Fri May  3 10:22:01 2024 UTC using RSA key {HX(40)}")
    H("public-cert/key", f"      SHA1 Fingerprint={':'.join(HX(2) for _ in range(20))}")
    H("public-cert/key", f'  "kid": "{rs(43, URLA)}", "kty": "RSA", "use": "sig", "alg": "RS256", "e": "AQAB"')
    H("public-cert/key", "-----BEGIN PUBLIC KEY-----\\n" + "\\n".join(pem_lines(bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d03010703420004") + rb(64))) + "\\n-----END PUBLIC KEY-----")
    H("public-cert/key", f"Serial Number: {':'.join(hx(2) for _ in range(16))}")
    H("public-cert/key", f"  Issuer: CN=kubernetes; Subject: CN=kube-apiserver; Not After: Jun 12 09:14:02 2025 GMT")
    H("public-cert/key", f"cosign verify ghcr.io/acme/{app()}@sha256:{hx(64)} --certificate-identity=https://github.com/acme/{app()}/.github/workflows/release.yml@refs/heads/main")
    # secret references
    H("secret-reference", "            secretKeyRef:")
    H("secret-reference", "              name: pg-credentials")
    H("secret-reference", "              key: password")
    H("secret-reference", "      - secretRef: { name: app-env }")
    H("secret-reference", f"      secretName: {app()}-tls")
    H("secret-reference", "      imagePullSecrets: [{ name: regcred }]")
    H("secret-reference", "      DB_PASSWORD:  <set to the key 'password' in secret 'pg-credentials'>  Optional: false")
    H("secret-reference", "      API_TOKEN:    <set to the key 'token' in secret 'api-creds'>          Optional: false")
    H("secret-reference", f"      /var/run/secrets/kubernetes.io/serviceaccount from kube-api-access-{rs(5, K8S)} (ro)")
    H("secret-reference", f"    SecretName:  {app()}-tls")
    H("secret-reference", f"db-credentials         Opaque                                3      {R.randint(2, 300)}d")
    H("secret-reference", "password:  24 bytes")
    H("secret-reference", "token:      1126 bytes")
    H("secret-reference", "ca.crt:     1099 bytes")
    H("secret-reference", "      remoteRef: { key: prod/db/password, property: password }")
    H("secret-reference", '    vault.hashicorp.com/agent-inject-secret-db: "database/creds/app"')
    H("secret-reference", "kubectl get secret db-credentials -n data -o jsonpath='{.data.password}' | base64 -d")
    H("secret-reference", "  password_file: /run/secrets/db_password")
    H("secret-reference", "      valueFrom: { secretKeyRef: { name: stripe, key: secret-key } }")
    H("secret-reference", "  existingSecret: redis-auth")
    H("secret-reference", "  existingSecretPasswordKey: redis-password")
    H("secret-reference", "serviceAccountName: hexabot")
    H("secret-reference", "arn:aws:secretsmanager:us-east-1:" + digits(12) + ":secret:prod/db/password-" + rs(6))
    H("secret-reference", "  tokenSecretRef: { name: cloudflare-api-token, key: api-token }")
    # harmless config about secrets
    H("config-harmless", "password_min_length: 12")
    H("config-harmless", "token_expiry: 1h")
    H("config-harmless", "secret_rotation_days=30")
    H("config-harmless", "auth_method: token")
    H("config-harmless", "AUTH_PASSWORD_VALIDATORS = [{'NAME': 'django.contrib.auth.password_validation.MinimumLengthValidator'}]")
    H("config-harmless", "PASSWORD_HASHERS = ['django.contrib.auth.hashers.Argon2PasswordHasher']")
    H("config-harmless", '  "token_type": "Bearer",')
    H("config-harmless", "token_endpoint: https://auth.example.com/oauth2/token")
    H("config-harmless", "password_reset_timeout: 3600")
    H("config-harmless", "api_key_header: X-API-Key")
    H("config-harmless", "SESSION_COOKIE_NAME = 'sessionid'")
    H("config-harmless", "jwt_algorithm: RS256")
    H("config-harmless", "enable_password_auth: false")
    H("config-harmless", "secret_store: vault")
    H("config-harmless", "MAX_TOKENS=4096")
    H("config-harmless", f'{{"model":"gpt-4o","usage":{{"prompt_tokens":{R.randint(100, 5000)},"completion_tokens":{R.randint(10, 900)},"total_tokens":{R.randint(5000, 6000)}}}}}')
    H("config-harmless", "tokenizer: cl100k_base")
    H("config-harmless", "PasswordAuthentication no")
    H("config-harmless", "key_size: 4096")
    H("config-harmless", "cipher: AES-256-GCM")
    H("config-harmless", "spring.security.oauth2.client.registration.google.scope=openid,profile,email")
    H("config-harmless", "token_ttl_seconds = 900")
    H("config-harmless", "automountServiceAccountToken: false")
    H("config-harmless", "  enableTokenRequestProjection: true")
    H("config-harmless", "password_policy = \"strong\"")
    H("config-harmless", "secret_backend: kubernetes")
    H("config-harmless", "require_api_key = true")
    H("config-harmless", "keyring_backend = \"file\"")
    H("config-harmless", "max_password_age_days: 90")
    H("config-harmless", "    auth: { type: bearer, header: Authorization }")
    H("config-harmless", "ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256;")
    H("config-harmless", "FEATURE_SECRET_SCANNING=true")
    H("config-harmless", "  features: { tokenRefresh: true, passwordlessLogin: false, apiKeyRotation: enabled }")
    H("config-harmless", "--feature-gates=ServiceAccountTokenJTI=true,ServiceAccountTokenNodeBinding=false")
    H("config-harmless", "rotate_keys_cron: \"0 3 * * 0\"")
    H("config-harmless", "  passwordRequired: true")
    # log prose
    H("log-prose", f"{ts()} INFO Password changed for user id={digits(5)}")
    H("log-prose", f"{ts()} WARN access token expired, refreshing")
    H("log-prose", f'  Warning  FailedMount  3m (x12 over 21m)  kubelet  MountVolume.SetUp failed for volume "tls" : secret "{app()}-tls" not found')
    H("log-prose", f"Error from server (NotFound): secrets \"db-credentials\" not found")
    H("log-prose", f"{ts()} ERROR failed to fetch token from metadata server: context deadline exceeded")
    H("log-prose", f"{ts()} INFO Successfully rotated signing key (kid=2024-{R.randint(1, 12):02d}-01)")
    H("log-prose", f"{ts_ngerr()} UTC [{R.randint(100, 9999)}] FATAL:  password authentication failed for user \"app\"")
    H("log-prose", f"ERROR 1045 (28000): Access denied for user 'root'@'{ip()}' (using password: YES)")
    H("log-prose", f"{ts()} WARN 401 Unauthorized: missing bearer token")
    H("log-prose", f"{ts()} INFO Token refresh succeeded; next refresh in 45m")
    H("log-prose", "Please enter your password:")
    H("log-prose", f"{ts_py()} WARNING django.security.csrf: Forbidden (CSRF token missing.): /api/login")
    H("log-prose", "Error: INSTALLATION FAILED: secret \"sh.helm.release.v1.redis.v3\" already exists")
    H("log-prose", f"{ts_sp()} ERROR 1 --- [main] o.s.boot.SpringApplication : Application run failed: Could not resolve placeholder 'db.password' in value \"${{db.password}}\"")
    H("log-prose", f"{ts()} INFO vault: renewed lease database/creds/app/{rs(24)} ttl=1h")
    H("log-prose", "remote: Invalid username or password.")
    H("log-prose", "fatal: Authentication failed for 'https://github.com/acme/platform.git/'")
    H("log-prose", f"{ts()} DEBUG jwt: token validated (alg=RS256, aud=api, exp in 14m)")
    H("log-prose", f"{ts()} INFO secret/{ns()}/app-env configured")
    H("log-prose", "secret/db-credentials created")
    H("log-prose", f"{ts()} WARN API key for tenant {digits(5)} will expire in 7 days")
    H("log-prose", f"[{ts_py()}: WARNING/MainProcess] Secret key not set for signing results; using unsigned serializer")
    H("log-prose", "Your password has been changed successfully.")
    H("log-prose", f"{ts()} level=info msg=\"private key loaded from /etc/tls/tls.key\"")
    H("log-prose", "Enter passphrase for key '/home/ops/.ssh/id_ed25519':")
    # placeholders
    H("placeholder", "DB_PASSWORD=${DB_PASSWORD}")
    H("placeholder", "token: <your-token-here>")
    H("placeholder", "          password: {{ .Values.auth.password | quote }}")
    H("placeholder", "export PGPASSWORD=$(cat /run/secrets/db_password)")
    H("placeholder", "          password: ${{ secrets.DB_PASSWORD }}")
    H("placeholder", "vault_token: \"{{ lookup('env', 'VAULT_TOKEN') }}\"")
    H("placeholder", "  password = var.db_password")
    H("placeholder", "api_key = os.environ[\"API_KEY\"]")
    H("placeholder", "const stripe = require('stripe')(process.env.STRIPE_SECRET_KEY);")
    H("placeholder", "DATABASE_URL=postgres://${DB_USER}:${DB_PASSWORD}@${DB_HOST}:5432/${DB_NAME}")
    H("placeholder", "Authorization: Bearer $TOKEN")
    H("placeholder", "curl -H \"Authorization: Bearer ${GITHUB_TOKEN}\" https://api.github.com/user")
    H("placeholder", "OPENAI_API_KEY=<paste key here>")
    H("placeholder", "spring.datasource.password=${SPRING_DATASOURCE_PASSWORD}")
    H("placeholder", "  apiKey: {{ requiredEnv \"DD_API_KEY\" }}")
    H("placeholder", "password: !vault |")
    H("placeholder", "client_secret = data.vault_generic_secret.oidc.data[\"client_secret\"]")
    # masked
    H("masked", "password: ********")
    H("masked", "token: [REDACTED]")
    H("masked", '  "secret": "***",')
    H("masked", "Authorization: Bearer [FILTERED]")
    H("masked", f"{ts_gh()} docker login -u ci-bot -p *** ghcr.io")
    H("masked", "      + password = (sensitive value)")
    H("masked", "api_key=<redacted>")
    H("masked", "postgres://app:***@pg-primary.data.svc:5432/app")
    H("masked", f"[{ts_py()}: INFO/MainProcess] Connected to amqp://celery:**@rabbitmq.messaging.svc:5672//")
    H("masked", "Stripe secret key: ending in 4242 (last 4 shown)")
    H("masked", "  AWS_SECRET_ACCESS_KEY: ****************")
    H("masked", "Parameters: {\"user\"=>{\"email\"=>\"ops@example.com\", \"password\"=>\"[FILTERED]\"}}")
    H("masked", "sasl.password = [hidden]")
    # URLs without creds / S3 / ARNs
    H("url", f"https://api.github.com/repos/acme/platform/actions/runs/{digits(10)}/jobs")
    H("url", "postgres://pg-primary.data.svc:5432/app?sslmode=require")
    H("url", "redis://redis-master.cache.svc:6379/0")
    H("url", f"s3://acme-prod-backups/postgres/2024/{R.randint(1, 12):02d}/{R.randint(1, 28):02d}/base.tar.gz")
    H("url", f"arn:aws:iam::{digits(12)}:role/eks-node-group-{rs(8, LOW)}")
    H("url", f"arn:aws:eks:eu-west-1:{digits(12)}:cluster/prod-{rs(4, LOW)}")
    H("url", f"arn:aws:kms:us-east-1:{digits(12)}:key/{uid()}")
    H("url", f"https://console.cloud.google.com/logs/query;query=resource.type%3D%22k8s_container%22?project=acme-prod-{digits(6)}")
    H("url", f"{ip()} - - [{ts_ng()}] \"GET /api/products?page=2&sort=desc&utm_source=newsletter HTTP/1.1\" 200 9123 \"https://shop.example.com/\" \"Mozilla/5.0\"")
    H("url", "https://gitlab.example.com/api/v4/projects/42/packages/helm/stable")
    H("url", "amqp://rabbitmq.messaging.svc.cluster.local:5672/%2F")
    H("url", f"gs://acme-ml-artifacts/models/{uid()}/model.onnx")
    H("url", "https://acmebackups.blob.core.windows.net/backups/db.tar.gz")
    H("url", "https://hooks.slack.com/ (endpoint configured via secret slack-webhook)")
    H("url", f"https://o{digits(6)}.ingest.sentry.io/api/{digits(7)}/envelope/")
    # base64 non-secret data in configmaps
    H("configmap-b64", f"  config.json: {b64s(json.dumps({'logLevel': 'info', 'replicas': 3}))}")
    H("configmap-b64", f"  banner.txt: {b64s('Welcome to the staging cluster. Changes are audited.')}")
    H("configmap-b64", f"  logo.png: iVBORw0KGgoAAAANSUhEUgAAA{b64(45)}")
    H("configmap-b64", "  settings.yaml: " + b64s("featureFlags:\n  newCheckout: true\n  darkMode: false\n"))
    H("configmap-b64", f"  motd: {b64s('maintenance window: sunday 02:00-04:00 UTC')}")
    # prometheus metrics
    H("metrics", f'http_requests_total{{code="200",handler="/api/token",method="POST"}} {R.randint(100, 99999)}')
    H("metrics", f"vault_token_lookup_count {R.randint(1, 999)}")
    H("metrics", f"process_resident_memory_bytes {R.randint(1, 9)}.{R.randint(10, 99)}e+07")
    H("metrics", f'apiserver_request_duration_seconds_bucket{{resource="secrets",verb="GET",le="0.05"}} {R.randint(100, 99999)}')
    H("metrics", f'certmanager_certificate_expiration_timestamp_seconds{{name="{app()}-tls",namespace="{ns()}"}} {epoch()}')
    H("metrics", "# HELP auth_failed_password_total Number of failed password logins.")
    H("metrics", f'kube_secret_info{{namespace="{ns()}",secret="db-credentials"}} 1')
    # kubectl tables
    H("kubectl-table", "NAME                        READY   STATUS    RESTARTS   AGE")
    H("kubectl-table", f"{pod()}      1/1     Running   0          {R.randint(1, 20)}d{R.randint(1, 23)}h")
    H("kubectl-table", f"{pod()}      0/1     CrashLoopBackOff   {R.randint(3, 40)} (41s ago)   {R.randint(10, 59)}m")
    H("kubectl-table", f"{app()}-{rs(10, K8S)}   3         3         3       {R.randint(1, 60)}d")
    H("kubectl-table", f"{app()}   ClusterIP   {ip()}   <none>        8080/TCP   {R.randint(1, 300)}d")
    H("kubectl-table", f"ip-10-0-{R.randint(1, 250)}-{R.randint(1, 250)}.eu-west-1.compute.internal   Ready    <none>   {R.randint(1, 90)}d   v1.29.3-eks-ae9a62a")
    H("kubectl-table", f"{app()}   {ns()}   {R.randint(1, 90)}   2024-05-03 10:22:01.{digits(9)} +0000 UTC   deployed   {app()}-1.{R.randint(0, 30)}.{R.randint(0, 9)}   2.{R.randint(0, 9)}.0")
    H("kubectl-table", f"job-{uid()}   1/1   {R.randint(5, 90)}s   {R.randint(1, 59)}m")
    H("kubectl-table", f"{R.randint(5, 59)}s   Normal   ScalingReplicaSet   deployment/{app()}   Scaled up replica set {app()}-{rs(10, K8S)} to 3")
    H("kubectl-table", f"{app()}-{rs(5, K8S)}   Bound    pvc-{uid()}   20Gi   RWO   gp3   {R.randint(1, 300)}d")
    # cron / versions / misc
    H("misc", 'schedule: "*/15 * * * *"')
    H("misc", "Client Version: v1.29.4 Kustomize Version: v5.0.4-0.20230601165947-6ce0bf390ce3 Server Version: v1.29.4-eks-036c24b")
    H("misc", "go version go1.22.3 linux/amd64")
    H("misc", f"Chart version {R.randint(10, 20)}.{R.randint(0, 9)}.{R.randint(0, 9)}, app version 7.2.4")
    H("misc", f"Python 3.11.9 (main, Apr 27 2024, 21:16:11) [GCC 12.2.0] on linux")
    H("misc", f"  instance_id = \"i-0{hx(16)}\"")
    H("misc", f"      + id = \"vpc-0{hx(16)}\"")
    H("misc", f"module.eks.aws_eks_node_group.this[\"default\"]: Modifications complete after 4m12s [id=prod:default-{digits(14)}]")
    H("misc", f"Plan: {R.randint(1, 9)} to add, {R.randint(0, 9)} to change, 0 to destroy.")
    H("misc", f"{ts_gh()} ##[group]Run actions/checkout@{hx(40)}")
    H("misc", f"{ts_gh()} Job is about to start running on the runner: ubuntu-latest-{rs(8, LOW)} (organization)")
    H("misc", f"Running with gitlab-runner 16.11.0 (91a27b2a) on k8s-runner-{rs(8, LOW)} {rs(8, LOW)}, system ID: r_{rs(12)}")
    H("misc", f"[Pipeline] // withCredentials")
    H("misc", f"Masking supported pattern matches of $NEXUS_PASSWORD")
    H("misc", f"  PID USER      PR  NI    VIRT    RES    SHR S  %CPU  %MEM     TIME+ COMMAND")
    H("misc", f"1000           1  0.4  1.7 1184540 69420 ?       Ssl  09:14   0:41 node /app/server.js --port=3000 --log-level=info")
    H("misc", f"postgres      {R.randint(30, 999)}  0.0  0.1 214520  9312 ?        Ss   09:14   0:00 postgres: app app {ip()}(53422) idle")
    H("misc", f"uuid={uid()} batch={digits(6)} status=done")
    H("misc", f"Build #{R.randint(100, 9999)} ({rs(8, LOW)}-{rs(4, LOW)}) finished: SUCCESS")
    H("misc", f"{ts()} INFO leader election: {pod()} became leader (lease {ns()}/{app()}-lock)")
    H("misc", f"workflow ci-{hx(16)}-{digits(4)} phase=Succeeded duration=4m{R.randint(10, 59)}s")
    H("misc", f"az account show --query id -o tsv => {uid()}")
    H("misc", f"Project number: {digits(12)}")
    H("misc", f"Storage account acmelogs, resource group rg-prod-{rs(4, LOW)}, SKU Standard_LRS")
    H("misc", f"stripe charge ch_{rs(24)} succeeded amount=1999 currency=eur")
    H("misc", f"Slack message posted ts={epoch()}.{digits(6)} channel=C{rs(8, UP)}")
    H("misc", f"Sentry event {hx(32)} captured")
    H("misc", f"GitHub run {digits(10)} attempt 1 conclusion=success")
    H("misc", "example.com.  300  IN  TXT  \"v=spf1 include:_spf.google.com ~all\"")
    H("misc", f"dkim selector google._domainkey published")
    H("misc", f"tls: certificate for *.{ns()}.example.com valid until 2025-0{R.randint(1, 9)}-1{R.randint(0, 9)}, serial {hx(32)}")
    H("misc", f"pod \"{app()}-{rs(5, K8S)}\" deleted")
    H("misc", f"{ts()} INFO  kafka: assigned partitions [orders-0 orders-1 orders-2] memberId=consumer-orders-1-{uid()}")
    H("misc", f"HTTP/1.1 200 OK Content-Type: application/json Content-Length: {R.randint(10, 9999)} Date: Fri, 03 May 2024 10:22:01 GMT")
    H("misc", f'{{"id":"{uid()}","status":"succeeded","createdAt":"{ts()}"}}')


PREFIX_ALARMS = ["sk_live_", "rk_live_", "ghp_", "gho_", "ghs_", "github_pat_", "glpat-", "xoxb-", "xoxp-",
                 "AKIA", "ASIA", "sk-ant-", "sk-proj-", "hvs.", "npm_", "pypi-", "dckr_pat_", "shpat_",
                 "PRIVATE KEY", "SG.", "whsec_", "dop_v1_", "lin_api_", "ATATT", "ya29.", "xapp-", "eyJhbGci"]


def main():
    build_secrets()
    build_harmless()
    problems = []
    sec_lines = set()
    for cat, s, line in SEC:
        if s is None:
            continue
        if len(s) < 8:
            problems.append(("short secret", s, line))
        if s not in line:
            problems.append(("secret not verbatim", s, line))
        for bad in ("\t", "\n", "\r"):
            if bad in s or bad in line:
                problems.append(("control char", s, line))
        if line != line.rstrip() or not line.strip():
            problems.append(("trailing space/blank", s, line))
        if line in sec_lines:
            problems.append(("duplicate secret line", s, line))
        sec_lines.add(line)
    har_lines = set()
    all_secrets = [s for _, s, _ in SEC if s]
    for cat, line in HAR:
        if "\t" in line or "\n" in line or "\r" in line:
            problems.append(("control char", "", line))
        if line != line.rstrip() or not line.strip():
            problems.append(("trailing space/blank", "", line))
        if line in har_lines:
            problems.append(("duplicate harmless line", "", line))
        har_lines.add(line)
        for s in all_secrets:
            if s in line:
                problems.append(("secret inside harmless", s, line))
        for p in PREFIX_ALARMS:
            if p in line:
                problems.append(("secret-like prefix in harmless", p, line))
    if har_lines & sec_lines:
        problems.append(("line in both files", "", ""))
    if problems:
        for p in problems:
            print("PROBLEM:", p, file=sys.stderr)
        sys.exit(1)

    secs = [(c, s, l) for c, s, l in SEC if s]
    with open(os.path.join(HERE, "heldout2_secrets.txt"), "w", encoding="utf-8", newline="\n") as f:
        for _, s, line in secs:
            f.write(f"{s}\t{line}\n")
    with open(os.path.join(HERE, "heldout2_harmless.txt"), "w", encoding="utf-8", newline="\n") as f:
        for _, line in HAR:
            f.write(line + "\n")

    print(f"secrets: {len(secs)} lines")
    for c, n in sorted(collections.Counter(c.split(":")[0] if c.startswith("vendor-key") else c for c, _, _ in secs).items(), key=lambda kv: -kv[1]):
        print(f"  {c:24s} {n}")
    vend = collections.Counter(c.split(":")[1] for c, _, _ in secs if c.startswith("vendor-key:"))
    print("  vendor breakdown:", ", ".join(f"{k}={v}" for k, v in sorted(vend.items())))
    print(f"harmless: {len(HAR)} lines")
    for c, n in sorted(collections.Counter(c for c, _ in HAR).items(), key=lambda kv: -kv[1]):
        print(f"  {c:24s} {n}")


if __name__ == "__main__":
    main()
