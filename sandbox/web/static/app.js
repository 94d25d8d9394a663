// The sandbox page: a small Slack client for whoever "you are", and Azure as the emulator sees it.
// State comes from GET /api/state; /api/events says when to fetch it again. Every action is a POST
// that the server turns into the signed request Slack would send to the bot.

import { readInputs, renderBlocks, restoreInputs } from "./blocks.js";
import { renderMrkdwn } from "./mrkdwn.js";
import { renderAzure } from "./azure.js";

const DEFAULT_USER = "U0ENGINE01";
const PREFERRED_CHANNEL = "C0APPROVAL";
const $ = (id) => document.getElementById(id);

const ui = {
  me: localStorage.getItem("jitbot.sandbox.user") || DEFAULT_USER,
  current: {}, // user -> conversation id
  tab: "messages", // or "home", in the DM with the app
  snapshot: null,
  seen: {}, // `${user}/${conversation}` -> number of messages read
  clockBase: null, // {server: ms, local: ms}
  modalKey: "",
};

function el(tag, className, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  node.append(...children);
  return node;
}

async function api(path, body) {
  const response = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({ ok: false, error: `HTTP ${response.status}` }));
  if (!answer.ok) throw new Error(answer.error || answer.rejected?.join("; ") || `HTTP ${response.status}`);
  return answer;
}

function toast(message) {
  const node = $("toast");
  node.textContent = message;
  node.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (node.hidden = true), 6000);
}

async function act(path, body) {
  try {
    return await api(path, { user: ui.me, ...body });
  } catch (error) {
    toast(error.message);
    return null;
  }
}

// -- fetching -------------------------------------------------------------------------------------

let fetching = null;
let again = false;

async function refresh() {
  if (fetching) {
    again = true;
    return fetching;
  }
  fetching = (async () => {
    do {
      again = false;
      try {
        ui.snapshot = await api(`/api/state?user=${encodeURIComponent(ui.me)}`);
        ui.clockBase = { server: Date.parse(ui.snapshot.clock.now), local: Date.now() };
        render();
      } catch (error) {
        if (ui.me !== DEFAULT_USER && error.message.startsWith("user must be")) {
          ui.me = DEFAULT_USER;
          again = true;
        } else {
          toast(`Could not load the sandbox state: ${error.message}`);
        }
      }
    } while (again);
    fetching = null;
  })();
  return fetching;
}

function listen() {
  const events = new EventSource("/api/events");
  events.onmessage = () => refresh();
  events.onerror = () => $("status").classList.add("offline");
  events.onopen = () => $("status").classList.remove("offline");
}

// -- rendering ------------------------------------------------------------------------------------

function conversations() {
  return ui.snapshot?.slack.conversations ?? [];
}

function currentConversation() {
  const list = conversations();
  const chosen = list.find((c) => c.id === ui.current[ui.me]);
  if (chosen) return chosen;
  const fallback = list.find((c) => c.id === PREFERRED_CHANNEL) ?? list.find((c) => c.kind === "im") ?? list[0];
  ui.current[ui.me] = fallback?.id;
  return fallback;
}

function render() {
  const slack = ui.snapshot.slack;
  $("team-name").textContent = slack.team;
  renderSwitcher(slack.people);
  renderClock();
  const conversation = currentConversation();
  renderSidebar(conversation);
  renderConversation(conversation);
  renderModal(slack.modal);
  renderAzure($("azure"), ui.snapshot.azure);
}

function renderSwitcher(people) {
  const select = $("user-switcher");
  if (select.options.length !== people.length) {
    select.replaceChildren(
      ...people.map((p) => {
        const option = el("option", "", `${p.name} — ${p.title || p.real_name}`);
        option.value = p.id;
        return option;
      }),
    );
  }
  select.value = ui.me;
}

function renderSidebar(active) {
  const sections = [
    ["Channels", conversations().filter((c) => c.kind === "channel"), "# "],
    ["Direct messages", conversations().filter((c) => c.kind === "im"), "🤖 "],
  ];
  const nodes = [];
  for (const [title, list, mark] of sections) {
    nodes.push(el("div", "sidebar-title", title));
    for (const conversation of list) {
      const unread = conversation.messages.length - (ui.seen[`${ui.me}/${conversation.id}`] ?? 0);
      const item = el("button", "sidebar-item", mark + conversation.name);
      item.type = "button";
      item.dataset.conversation = conversation.id;
      if (conversation.id === active?.id) item.classList.add("active");
      else if (unread > 0) item.append(el("span", "badge", String(unread)));
      item.addEventListener("click", () => {
        ui.current[ui.me] = conversation.id;
        ui.tab = "messages";
        render();
      });
      nodes.push(item);
    }
  }
  $("sidebar").replaceChildren(...nodes);
}

function renderConversation(conversation) {
  if (!conversation) return;
  const isApp = conversation.kind === "im";
  const title = isApp ? conversation.name : `# ${conversation.name}`;
  $("conv-title").textContent = title;
  $("conv-topic").textContent = conversation.topic;
  const tabs = $("conv-tabs");
  tabs.hidden = !isApp;
  for (const tab of tabs.querySelectorAll("button")) tab.classList.toggle("active", tab.dataset.tab === ui.tab);
  const showHome = isApp && ui.tab === "home";
  $("composer").hidden = showHome;
  $("composer-input").placeholder = isApp ? `Message ${conversation.name}` : `Message #${conversation.name}`;
  if (showHome) renderHome(ui.snapshot.slack.home);
  else renderMessages(conversation);
}

function renderMessages(conversation) {
  const list = $("messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const dir = ui.snapshot.slack.directory;
  const nodes = conversation.messages.map((message) => renderMessage(message, conversation, dir));
  if (!nodes.length) nodes.push(el("div", "empty", emptyHint(conversation)));
  list.replaceChildren(...nodes);
  ui.seen[`${ui.me}/${conversation.id}`] = conversation.messages.length;
  if (atBottom || list.dataset.showing !== conversation.id) list.scrollTop = list.scrollHeight;
  list.dataset.showing = conversation.id;
}

function emptyHint(conversation) {
  if (conversation.kind === "im") return "Type /jit help below to start, or /jit ssh web-01 1h fixing deploy.";
  return "Nothing here yet. Messages from jitbot appear here.";
}

function renderMessage(message, conversation, dir) {
  const sender = dir.users[message.user] ?? message.user;
  const meta = el("div", "msg-meta", el("strong", "", sender), el("span", "app-badge", "APP"));
  if (message.at) meta.append(el("time", "", formatTime(message.at)));
  if (message.edited) meta.append(el("span", "edited", "(edited)"));
  const onButton = (element, blockId, button) =>
    press(element, button, { path: "/api/click", body: { channel: conversation.id, ts: message.ts } });
  const body = message.blocks?.length
    ? renderBlocks(message.blocks, { dir, onButton })
    : el("div", "bk-text-block", renderMrkdwn(message.text, dir));
  const parts = [meta];
  if (message.thread_ts && message.thread_ts !== message.ts) parts.push(el("div", "thread-note", "↳ reply in thread"));
  if (message.text || message.blocks?.length || !message.files?.length) parts.push(body);
  if (message.files?.length) parts.push(renderFiles(message.files));
  const node = el("div", "msg", el("div", "avatar", "🤖"), el("div", "msg-body", ...parts));
  node.dataset.ts = message.ts;
  if (message.ephemeral) {
    node.classList.add("ephemeral");
    node.querySelector(".msg-body").append(el("div", "ephemeral-note", "👁 Only visible to you"));
  }
  return node;
}

function renderFiles(files) {
  const shown = files.map((file) => {
    const link = el("a", "file-link", file.title || file.name);
    link.href = file.url;
    link.target = "_blank";
    link.rel = "noopener";
    if (!file.mimetype.startsWith("image/")) {
      link.download = file.name;
      return el("div", "file", "📎 ", link, el("span", "file-meta", ` ${file.filetype.toUpperCase()} · ${file.name}`));
    }
    const image = el("img", "file-image");
    image.src = file.url;
    image.alt = file.title || file.name;
    const open = el("a", "", image);
    open.href = file.url;
    open.target = "_blank";
    open.rel = "noopener";
    return el("figure", "file", open, el("figcaption", "file-meta", file.title || file.name));
  });
  return el("div", "files", ...shown);
}

function renderHome(home) {
  const list = $("messages");
  list.dataset.showing = "home";
  if (!home) {
    list.replaceChildren(el("div", "empty", "jitbot has not published a Home tab for you yet."));
    return;
  }
  const onButton = (element, blockId, button) =>
    press(element, button, { path: "/api/view/click", body: { view_id: home.id, values: readInputs(list) } });
  const page = el("div", "home", renderBlocks(home.blocks, { dir: ui.snapshot.slack.directory, onButton }));
  page.id = "home";
  list.replaceChildren(page);
}

async function press(element, button, { path, body }) {
  if (element.confirm && !(await confirmDialog(element.confirm))) return;
  button.disabled = true;
  button.classList.add("pressed");
  await act(path, { ...body, action_id: element.action_id, value: element.value ?? null });
  button.disabled = false;
}

// -- modals ---------------------------------------------------------------------------------------

function renderModal(modal) {
  const root = $("modal-root");
  if (!modal) {
    root.hidden = true;
    root.replaceChildren();
    ui.modalKey = "";
    return;
  }
  const key = JSON.stringify([modal.id, modal.blocks, modal.errors, modal.title]);
  if (key === ui.modalKey) return;
  const previous = root.querySelector(".modal-body");
  const entered = previous && previous.dataset.viewId === modal.id ? readInputs(previous) : null;
  ui.modalKey = key;
  const dir = ui.snapshot.slack.directory;
  const body = el("div", "modal-body");
  body.dataset.viewId = modal.id;
  const onButton = (element, blockId, button) =>
    press(element, button, { path: "/api/view/click", body: { view_id: modal.id, values: readInputs(body) } });
  body.append(renderBlocks(modal.blocks, { dir, errors: modal.errors, onButton }));
  if (entered) restoreInputs(body, entered);

  const close = el("button", "bk-button", modal.close);
  close.type = "button";
  close.id = "modal-close";
  close.addEventListener("click", () => act("/api/view/close", { view_id: modal.id }));
  const footer = el("div", "modal-footer", close);
  if (modal.submit) {
    const submit = el("button", "bk-button primary", modal.submit);
    submit.type = "button";
    submit.id = "modal-submit";
    submit.addEventListener("click", async () => {
      submit.disabled = true;
      await act("/api/view/submit", { view_id: modal.id, values: readInputs(body) });
      submit.disabled = false;
    });
    footer.append(submit);
  }
  const dialog = el("div", "modal", el("div", "modal-header", el("h2", "", modal.title)), body, footer);
  dialog.id = "modal";
  dialog.dataset.callbackId = modal.callback_id;
  dialog.setAttribute("role", "dialog");
  root.replaceChildren(dialog);
  root.hidden = false;
}

function confirmDialog(confirm) {
  return new Promise((resolve) => {
    const dir = ui.snapshot.slack.directory;
    const finish = (answer) => {
      overlay.remove();
      resolve(answer);
    };
    const yes = el("button", `bk-button ${confirm.style === "danger" ? "danger" : "primary"}`, confirm.confirm?.text ?? "Yes");
    const no = el("button", "bk-button", confirm.deny?.text ?? "Cancel");
    yes.id = "confirm-yes";
    yes.addEventListener("click", () => finish(true));
    no.addEventListener("click", () => finish(false));
    const overlay = el(
      "div",
      "modal-backdrop",
      el(
        "div",
        "modal confirm",
        el("div", "modal-header", el("h2", "", confirm.title?.text ?? "Are you sure?")),
        el("div", "modal-body", renderMrkdwn(confirm.text?.text ?? "", dir)),
        el("div", "modal-footer", no, yes),
      ),
    );
    document.body.append(overlay);
  });
}

// -- the clock ------------------------------------------------------------------------------------

function formatTime(iso) {
  return new Date(iso).toISOString().slice(11, 16) + " UTC";
}

function renderClock() {
  const clock = ui.snapshot?.clock;
  if (!clock || !ui.clockBase) return;
  const now = new Date(ui.clockBase.server + (Date.now() - ui.clockBase.local));
  $("clock-now").textContent = now.toISOString().slice(11, 19) + " UTC";
  const ahead = Math.round(clock.offset_seconds / 60);
  $("clock-offset").textContent = ahead ? `(${ahead} min ahead of real time)` : "";
  $("clock-controls").hidden = !clock.can_advance;
  const next = $("ff-next");
  next.disabled = !clock.next_due;
  next.textContent = clock.next_due ? `⏭ Next event (${formatTime(clock.next_due)})` : "⏭ Nothing scheduled";
}

async function fastForward(body) {
  const answer = await act("/api/clock", body);
  if (!answer) return;
  await refresh();
  // Work that fell due may change nothing visible; look again once the scheduler has had a go.
  setTimeout(refresh, 1500);
}

// -- start ----------------------------------------------------------------------------------------

function wire() {
  $("user-switcher").addEventListener("change", (event) => {
    ui.me = event.target.value;
    localStorage.setItem("jitbot.sandbox.user", ui.me);
    ui.tab = "messages";
    ui.modalKey = "";
    refresh();
  });
  $("composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("composer-input");
    const text = input.value.trim();
    if (!text) return;
    const channel = currentConversation()?.id;
    if (await act("/api/command", { channel, text })) input.value = "";
  });
  for (const chip of document.querySelectorAll("[data-example]")) {
    chip.addEventListener("click", () => {
      $("composer-input").value = chip.dataset.example;
      $("composer-input").focus();
    });
  }
  for (const tab of $("conv-tabs").querySelectorAll("button")) {
    tab.addEventListener("click", async () => {
      ui.tab = tab.dataset.tab;
      render();
      if (ui.tab === "home") await act("/api/home/open", {});
    });
  }
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("modal-root").hidden) $("modal-close")?.click();
  });
  $("ff-10").addEventListener("click", () => fastForward({ minutes: 10 }));
  $("ff-next").addEventListener("click", () => fastForward({ to: "next" }));
  $("portal-open").addEventListener("click", async () => {
    const answer = await act("/api/azure/portal", {});
    if (answer && answer.ok) {
      toast(`${answer.person} opened port ${answer.port} on ${answer.vm} from ${answer.source} in the portal. ` +
        "jitbot's sync with Azure reports it in #oncall within minutes: try ⏩ +10 min.");
    }
  });
  setInterval(renderClock, 1000);
}

wire();
listen();
refresh();
