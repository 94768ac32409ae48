"""What a person calls a thing, resolved against the objects they can see: exact names,
names with a typo ("wep app", "ledgr"), names as words ("checkout worker"), a unique part
("the ledger", "checkout" only when one object has it), kinds of thing ("my database").
Ties are ambiguous — asked back, never guessed."""

from __future__ import annotations

from dataclasses import dataclass, field

from agents.understand.intents import weigh
from agents.understand.words import close, tokens

DATABASE_IMAGES = ("postgres", "mysql", "mariadb", "mongo", "redis", "cockroach")
DATABASE_WORDS = {"database", "db", "dbs", "databases", "postgres", "postgresql", "pg",
                  "mysql", "mariadb", "mongo", "mongodb"}
# Words too generic to name a thing on their own ("my app" is not web-app).
GENERIC = {"app", "apps", "application", "service", "services", "svc", "server", "config",
           "pod", "pods", "deployment", "deploy", "the", "my", "our", "new", "old", "main",
           "job", "cron", "data", "all", "it", "this", "that", "container", "log", "logs",
           "status", "on", "in", "to", "and", "up", "down", "is", "of", "for", "a"}
FUNCTION = {"up", "down", "to", "in", "on", "the", "my", "our", "is", "of", "for", "a", "an",
            "and", "it", "all", "this", "that", "new", "old", "by", "from", "with", "at",
            "me", "pls", "please", "now", "logs", "log", "status", "scale", "restart"}
KIND_WORDS = {"deployment": "Deployment", "deployments": "Deployment", "deploy": "Deployment",
              "deploys": "Deployment", "deployment.apps": "Deployment",
              "statefulset": "StatefulSet", "statefulsets": "StatefulSet", "sts": "StatefulSet",
              "service": "Service", "services": "Service", "svc": "Service",
              "configmap": "ConfigMap", "configmaps": "ConfigMap", "cm": "ConfigMap",
              "config-map": "ConfigMap", "cronjob": "CronJob", "cronjobs": "CronJob",
              "cj": "CronJob", "cron-job": "CronJob", "secret": "Secret", "secrets": "Secret",
              "pod": "Pod", "pods": "Pod", "job": "Job", "jobs": "Job", "ingress": "Ingress",
              "hpa": "HorizontalPodAutoscaler", "pdb": "PodDisruptionBudget",
              "pvc": "PersistentVolumeClaim"}
WORKLOADS = ("Deployment", "StatefulSet")


@dataclass(frozen=True)
class Obj:
    kind: str
    name: str
    namespace: str
    replicas: int | None = None
    containers: tuple[str, ...] = ()
    images: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()        # a ConfigMap's keys
    restarts: int = 0                 # a Pod's
    owner: str = ""                   # a Pod's workload
    selector: str = ""                # a workload's pods: "app=web-app"

    @property
    def database(self) -> bool:
        return self.kind == "StatefulSet" and any(
            db in image for image in self.images for db in DATABASE_IMAGES)


@dataclass
class Inventory:
    """Everything the person can see, in their namespaces (the current one first)."""
    current: str
    namespaces: tuple[str, ...]
    objects: list[Obj] = field(default_factory=list)

    def of(self, *kinds: str) -> list[Obj]:
        return [o for o in self.objects if o.kind in kinds]

    def pods_of(self, workload: Obj) -> list[Obj]:
        return [p for p in self.of("Pod") if p.namespace == workload.namespace
                and (p.owner == workload.name or p.name.startswith(workload.name + "-"))]


@dataclass(frozen=True)
class Mention:
    """Objects a stretch of words may mean, best first, and how sure (0 to 10)."""
    objects: tuple[Obj, ...]
    score: float
    words: tuple[int, int]  # token span


def _phrases(words: list[str]) -> list[tuple[str, tuple[int, int]]]:
    """Every run of 1 to 3 tokens, joined by dashes ("checkout api" → checkout-api); runs of
    several words only of content words ("checkout up" is not a name)."""
    found = []
    for size in (3, 2, 1):
        for i in range(len(words) - size + 1):
            run = words[i:i + size]
            if size > 1 and any(w in FUNCTION or "/" in w or w.isdigit() for w in run):
                continue
            found.append(("-".join(run), (i, i + size)))
    return found


def _score(phrase: str, name: str) -> float:
    bare = phrase.split("/")[-1]  # kubectl's deploy/NAME
    if bare == name:
        return 10.0
    if "-" in bare or len(bare) >= 5:
        if close(bare, name) or close(bare.replace("-", ""), name.replace("-", "")):
            return 8.0
    if "-" in bare or bare in GENERIC:
        return 0.0
    parts = name.split("-")
    if bare == parts[0] or (len(bare) >= 4 and close(bare, parts[0])):
        return 5.0
    if bare in parts[1:] and len(bare) >= 3:
        return 3.0
    return 0.0


def mentions(text: str, inventory: Inventory, kinds: tuple[str, ...] | None = None
             ) -> list[Mention]:
    """What the text names, best first; a longer phrase wins over the words inside it."""
    words = tokens(text)
    named: dict[str, list[Obj]] = {}
    for o in inventory.objects:
        if kinds is None or o.kind in kinds:
            named.setdefault(o.name, []).append(o)
    # Pods are named exactly or not at all (their names are generated); the rest loosely.
    loose = [n for n, objs in named.items() if any(o.kind != "Pod" for o in objs)]
    found: list[Mention] = []
    taken: set[int] = set()
    scored = []
    for phrase, span in _phrases(words):
        bare = phrase.split("/")[-1]
        hits = [(10.0, o) for o in named.get(bare, ())]
        if not hits:
            hits = [(s, o) for n in loose if (s := _score(phrase, n)) > 0 for o in named[n]]
        pool = [o for objs in named.values() for o in objs] if phrase in DATABASE_WORDS else []
        hits += [(6.0, o) for o in pool if o.database]
        if hits:
            best = max(s for s, _ in hits)
            scored.append((best, span, tuple(o for s, o in hits if s == best)))
    for best, span, objs in sorted(scored, key=lambda m: (-m[0], m[1][0] - m[1][1])):
        if taken & set(range(*span)):
            continue
        taken |= set(range(*span))
        found.append(Mention(objs, best, span))
    return found


def name_like(text: str, inventory: Inventory, known: set[str]) -> list[str]:
    """Words that look like a name but name nothing here (``payments-service``, ``redis``):
    the request is about something that is not there."""
    names = {o.name for o in inventory.objects}
    out = []
    for word in tokens(text):
        bare = word.split("/")[-1]
        if bare in names or bare in known or bare.isdigit():
            continue
        if "-" in bare and len(bare) > 3 and not bare.startswith("-") and not weigh(bare):
            out.append(bare)
    return out


def prefer(objects: tuple[Obj, ...], inventory: Inventory, namespace: str | None,
           kinds: tuple[str, ...]) -> tuple[Obj, ...]:
    """Narrow a mention: the named namespace, then the wanted kinds (in order), then the
    current namespace for an object of the same name elsewhere."""
    pool = [o for o in objects if namespace is None or o.namespace == namespace]
    for kind in kinds:
        of_kind = [o for o in pool if o.kind == kind]
        if of_kind:
            pool = of_kind
            break
    else:
        if kinds:
            return ()
    names = {o.name for o in pool}
    if len(names) == 1 and len(pool) > 1:
        here = [o for o in pool if o.namespace == inventory.current]
        pool = here or pool
    return tuple(pool)
