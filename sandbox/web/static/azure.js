// The Azure side panel: open JIT rules, what opened and closed, policies, VMs and Azure's request history.

function el(tag, className, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  node.append(...children);
  return node;
}

function section(title, id, ...children) {
  const node = el("section", "az-section", el("h3", "", title), ...children);
  node.id = id;
  return node;
}

function time(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toISOString().slice(5, 16).replace("T", " ");
}

function clockTime(iso) {
  return iso ? new Date(iso).toISOString().slice(11, 16) : "";
}

// PT3H -> 3h, PT1H30M -> 1h30m
function duration(iso) {
  const match = /^P(?:(\d+)D)?T?(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?$/.exec(iso ?? "");
  if (!match) return iso ?? "";
  const [, d, h, m, s] = match;
  return [d && `${d}d`, h && `${h}h`, m && `${m}m`, s && `${s}s`].filter(Boolean).join("") || "0m";
}

function openRules(rules) {
  if (!rules.length) return el("p", "muted", "No JIT ports are open. Approve a request to open one.");
  return el(
    "ul",
    "az-list",
    ...rules.map((rule) => {
      const item = el(
        "li",
        "az-rule open",
        el("strong", "", `${rule.vm}:${rule.port}`),
        ` allow from ${rule.source} → ${rule.destination}`,
        el("div", "muted", `NSG ${rule.nsg} · priority ${rule.priority} · closes ${clockTime(rule.ends)} UTC`),
      );
      item.dataset.vm = rule.vm;
      item.dataset.port = String(rule.port);
      return item;
    }),
  );
}

function activity(changes) {
  if (!changes.length) return el("p", "muted", "Rules opening and closing show up here.");
  return el(
    "ul",
    "az-list",
    ...changes.map((c) =>
      el(
        "li",
        `az-change ${c.kind}`,
        `${clockTime(c.at)} ${c.kind === "opened" ? "🟢 opened" : "🔴 closed"} ${c.vm}:${c.port}`,
        c.kind === "opened" ? ` from ${c.source}` : "",
      ),
    ),
  );
}

function policies(list) {
  if (!list.length) return el("p", "muted", "No JIT policies.");
  return el(
    "ul",
    "az-list",
    ...list.map((policy) =>
      el(
        "li",
        "az-policy",
        el("div", "", el("strong", "", `${policy.resource_group}/${policy.name}`), ` · ${policy.location}`),
        ...policy.vms.map((vm) =>
          el(
            "div",
            "az-policy-vm",
            `${vm.name}: `,
            vm.ports.map((p) => `${p.number} ≤${duration(p.max)} from ${p.sources.join(", ")}`).join("; "),
          ),
        ),
      ),
    ),
  );
}

const STATUS = { configured: "JIT on", not_configured: "not configured", unsupported: "unsupported" };

function vms(list) {
  const rows = list.map((vm) => {
    const badge = el("span", `badge-status ${vm.status}`, STATUS[vm.status] ?? vm.status);
    if (vm.reason) badge.title = vm.reason;
    const row = el(
      "tr",
      "",
      el("td", "", vm.name),
      el("td", "muted", vm.resource_group),
      el("td", "", badge, vm.reason ? el("div", "muted small", vm.reason) : ""),
    );
    row.dataset.vm = vm.name;
    row.dataset.status = vm.status;
    return row;
  });
  return el("table", "az-table", el("tbody", "", ...rows));
}

function requests(list) {
  if (!list.length) return el("p", "muted", "No requests yet.");
  return el(
    "ul",
    "az-list",
    ...list.map((r) =>
      el(
        "li",
        "az-request",
        el("div", "", el("strong", "", r.vm), ` · ${time(r.start)} UTC`),
        el("div", "", r.ports.map((p) => `${p.number}: ${p.status}${p.reason ? ` (${p.reason})` : ""}`).join(", ")),
        el("div", "muted small", r.requested_by ? `for ${r.requested_by}, approved by ${r.approved_by}` : r.requestor),
      ),
    ),
  );
}

const expanded = new Map(); // NSG name -> opened or closed by hand

function nsgs(list) {
  return el(
    "div",
    "",
    ...list.map((nsg) => {
      const rows = nsg.rules.map((rule) => {
        const row = el(
          "tr",
          rule.jit ? `jit ${rule.access.toLowerCase()}` : "",
          el("td", "", String(rule.priority)),
          el("td", "", rule.access),
          el("td", "", rule.port),
          el("td", "", `${rule.source} → ${rule.destination}`),
        );
        row.title = rule.name;
        return row;
      });
      const body = rows.length ? el("table", "az-table", el("tbody", "", ...rows)) : el("p", "muted", "No rules.");
      const open = nsg.rules.some((rule) => rule.jit && rule.access === "Allow");
      const summary = el("summary", "", `${nsg.resource_group}/${nsg.name}`);
      const details = el("details", "az-nsg", summary, body);
      details.open = expanded.get(nsg.name) ?? open;
      summary.addEventListener("click", () => expanded.set(nsg.name, !details.open));
      details.dataset.nsg = nsg.name;
      return details;
    }),
  );
}

export function renderAzure(root, azure) {
  const subscriptions = azure.subscriptions
    .map((s) => `${s.name} (Defender for Servers ${s.defender ? "on" : "off"})`)
    .join(" · ");
  root.replaceChildren(
    el("h2", "", "Azure ", el("span", "muted small", "as the emulator sees it")),
    el("p", "muted small", subscriptions),
    section("Open now: JIT rules in NSGs", "azure-open-rules", openRules(azure.open_rules)),
    section("Activity", "azure-activity", activity(azure.activity)),
    section("JIT policies", "azure-policies", policies(azure.policies)),
    section("Virtual machines", "azure-vms", vms(azure.vms)),
    section("Network security groups", "azure-nsgs", nsgs(azure.nsgs)),
    section("Requests (Azure's history)", "azure-requests", requests(azure.requests)),
  );
}
