// Slack mrkdwn to DOM nodes, minimally: *bold*, _italic_, ~strike~, `code`, ```pre```, <@U…> mentions,
// <!date^…|fallback>, <#C…>, <!subteam^S…>, and links shown as text. Only text nodes are ever created,
// so nothing the bot (or a user quoted by the bot) sends can become markup.

const EMOJI = {
  lock: "🔒", unlock: "🔓", rotating_light: "🚨", x: "❌", no_entry: "⛔", no_entry_sign: "🚫",
  leftwards_arrow_with_hook: "↩️", hourglass_flowing_sand: "⏳", hourglass: "⌛", construction: "🚧",
  bar_chart: "📊", white_check_mark: "✅", heavy_check_mark: "✔️", warning: "⚠️", snail: "🐌",
  shield: "🛡️", robot_face: "🤖", repeat: "🔁", outbox_tray: "📤", gear: "⚙️", ballot_box_with_check: "☑️",
  alarm_clock: "⏰", key: "🔑", clock3: "🕒", stopwatch: "⏱️", information_source: "ℹ️", bulb: "💡",
  wave: "👋", tada: "🎉", mag: "🔍", memo: "📝", bell: "🔔", door: "🚪", computer: "💻", cloud: "☁️",
  large_green_circle: "🟢", red_circle: "🔴", large_yellow_circle: "🟡", hammer_and_wrench: "🛠️",
  globe_with_meridians: "🌐", new: "🆕", grey_question: "❔",
};

const TOKEN = new RegExp(
  [
    "```([\\s\\S]+?)```",
    "`([^`\\n]+)`",
    "<([^<>\\s][^<>]*)>",
    "(?<![\\p{L}\\p{N}_*])\\*(?!\\s)([^*\\n]+?)\\*(?![\\p{L}\\p{N}_*])",
    "(?<![\\p{L}\\p{N}_])_(?!\\s)([^_\\n]+?)_(?![\\p{L}\\p{N}_])",
    "(?<![\\p{L}\\p{N}_~])~(?!\\s)([^~\\n]+?)~(?![\\p{L}\\p{N}_~])",
  ].join("|"),
  "gu",
);

export function decodeEntities(text) {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

export function emojify(text) {
  return text.replace(/:([a-z0-9_+-]+):/g, (whole, name) => EMOJI[name] ?? whole);
}

function span(className, text) {
  const node = document.createElement("span");
  node.className = className;
  node.textContent = text;
  return node;
}

function wrap(tag, children) {
  const node = document.createElement(tag);
  node.append(children);
  return node;
}

// <…> tokens: mentions, channels, groups, dates, specials and links.
function special(inner, dir) {
  const [target, label] = splitOnce(inner, "|");
  if (target.startsWith("@")) {
    const id = target.slice(1);
    return span("mention", "@" + (dir.users?.[id] ?? label ?? id));
  }
  if (target.startsWith("#")) {
    const id = target.slice(1);
    return span("mention", "#" + (dir.channels?.[id] ?? label ?? id));
  }
  if (target.startsWith("!subteam^")) {
    const id = target.slice("!subteam^".length);
    return span("mention", "@" + (dir.groups?.[id] ?? (label ? label.replace(/^@/, "") : id)));
  }
  if (target.startsWith("!date^")) {
    return document.createTextNode(decodeEntities(label ?? ""));
  }
  if (target.startsWith("!")) {
    return span("mention", "@" + (label ?? target.slice(1)));
  }
  const link = span("link", decodeEntities(label ?? target));
  link.title = decodeEntities(target);
  return link;
}

function splitOnce(text, separator) {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

function inline(text, dir) {
  const out = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(TOKEN)) {
    if (match.index > last) out.append(emojify(decodeEntities(text.slice(last, match.index))));
    const [, pre, code, angle, bold, italic, strike] = match;
    if (pre !== undefined) out.append(wrap("pre", decodeEntities(pre.replace(/^\n/, ""))));
    else if (code !== undefined) out.append(wrap("code", decodeEntities(code)));
    else if (angle !== undefined) out.append(special(angle, dir));
    else if (bold !== undefined) out.append(wrap("strong", inline(bold, dir)));
    else if (italic !== undefined) out.append(wrap("em", inline(italic, dir)));
    else if (strike !== undefined) out.append(wrap("s", inline(strike, dir)));
    last = match.index + match[0].length;
  }
  if (last < text.length) out.append(emojify(decodeEntities(text.slice(last))));
  return out;
}

// A text object ({type: "mrkdwn" | "plain_text", text}) as DOM nodes.
export function renderText(textObject, dir) {
  if (!textObject || typeof textObject.text !== "string") return document.createDocumentFragment();
  if (textObject.type === "mrkdwn") return withQuotes(textObject.text, dir);
  const plain = textObject.emoji === false ? textObject.text : emojify(textObject.text);
  return document.createTextNode(plain);
}

// Lines starting with ">" (the bot's own markup; quoted user text arrives escaped as &gt;) are quotes.
function withQuotes(text, dir) {
  if (text.includes("```") || !/^>/m.test(text)) return inline(text, dir);
  const groups = [];
  for (const line of text.split("\n")) {
    const quote = line.startsWith(">");
    const last = groups.at(-1);
    const body = quote ? line.replace(/^> ?/, "") : line;
    if (last && last.quote === quote) last.lines.push(body);
    else groups.push({ quote, lines: [body] });
  }
  const out = document.createDocumentFragment();
  for (const group of groups) {
    const content = inline(group.lines.join("\n"), dir);
    out.append(group.quote ? wrap("blockquote", content) : content);
  }
  return out;
}

export function renderMrkdwn(text, dir) {
  return withQuotes(String(text ?? ""), dir);
}
