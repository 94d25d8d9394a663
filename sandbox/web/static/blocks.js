// Block Kit to DOM: the blocks the bot really sent, for messages, modals and the App Home.
// ctx = { dir, errors, onButton(element, blockId) }. Inputs carry data-block-id / data-action-id so
// readInputs() can send them back as Slack would (view.state.values).

import { renderText } from "./mrkdwn.js";

function el(tag, className, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  node.append(...children);
  return node;
}

function plainOf(textObject) {
  return textObject && typeof textObject.text === "string" ? textObject.text : "";
}

function renderButton(element, blockId, ctx) {
  const button = el("button", "bk-button", renderText(element.text, ctx.dir));
  button.type = "button";
  if (element.style === "primary" || element.style === "danger") button.classList.add(element.style);
  button.dataset.actionId = element.action_id ?? "";
  button.dataset.value = element.value ?? "";
  button.addEventListener("click", () => ctx.onButton(element, blockId, button));
  return button;
}

function optionsOf(element) {
  const groups = element.option_groups ?? [{ options: element.options ?? [] }];
  return groups.flatMap((group) => group.options ?? []);
}

function tagInput(node, blockId, element, kind) {
  node.dataset.input = kind;
  node.dataset.blockId = blockId;
  node.dataset.actionId = element.action_id ?? "";
  return node;
}

function renderSelect(element, blockId, multiple) {
  const select = tagInput(el("select", "bk-select"), blockId, element, multiple ? "multi" : "select");
  select.multiple = multiple;
  const initial = new Set(
    (multiple ? element.initial_options ?? [] : [element.initial_option].filter(Boolean)).map((o) => o.value),
  );
  if (!multiple) {
    const none = el("option", "", plainOf(element.placeholder) || "Select an option");
    none.value = "";
    select.append(none);
  }
  for (const option of optionsOf(element)) {
    const node = el("option", "", plainOf(option.text));
    node.value = option.value;
    node.selected = initial.has(option.value);
    select.append(node);
  }
  return select;
}

function renderChoices(element, blockId, type) {
  const group = tagInput(el("div", "bk-choices"), blockId, element, type);
  const initial = new Set(
    (type === "checkboxes" ? element.initial_options ?? [] : [element.initial_option].filter(Boolean)).map(
      (o) => o.value,
    ),
  );
  const name = `${blockId}/${element.action_id}`;
  for (const option of optionsOf(element)) {
    const box = el("input");
    box.type = type === "checkboxes" ? "checkbox" : "radio";
    box.name = name;
    box.value = option.value;
    box.checked = initial.has(option.value);
    group.append(el("label", "bk-choice", box, " ", renderText(option.text, {})));
  }
  return group;
}

function renderTextInput(element, blockId) {
  const multiline = Boolean(element.multiline);
  const input = tagInput(el(multiline ? "textarea" : "input", "bk-text"), blockId, element, "text");
  if (!multiline) input.type = "text";
  input.value = element.initial_value ?? "";
  input.placeholder = plainOf(element.placeholder);
  if (element.max_length) input.maxLength = element.max_length;
  return input;
}

function renderElement(element, blockId, ctx) {
  switch (element.type) {
    case "button":
      return renderButton(element, blockId, ctx);
    case "plain_text_input":
    case "number_input":
    case "email_text_input":
    case "url_text_input":
      return renderTextInput(element, blockId);
    case "static_select":
      return renderSelect(element, blockId, false);
    case "multi_static_select":
      return renderSelect(element, blockId, true);
    case "checkboxes":
    case "radio_buttons":
      return renderChoices(element, blockId, element.type);
    case "image":
      return el("span", "bk-image", `[${element.alt_text ?? "image"}]`);
    default:
      return el("span", "bk-unsupported", `[${element.type} is not clickable in the sandbox]`);
  }
}

function renderSection(block, ctx) {
  const body = el("div", "bk-section-body");
  if (block.text) body.append(el("div", "bk-text-block", renderText(block.text, ctx.dir)));
  if (block.fields?.length) {
    body.append(el("div", "bk-fields", ...block.fields.map((f) => el("div", "bk-field", renderText(f, ctx.dir)))));
  }
  const section = el("div", "bk-section", body);
  if (block.accessory) section.append(el("div", "bk-accessory", renderElement(block.accessory, block.block_id, ctx)));
  return section;
}

function renderInput(block, ctx) {
  const label = el("label", "bk-label", renderText(block.label, ctx.dir));
  if (block.optional) label.append(el("span", "bk-optional", " (optional)"));
  const wrapper = el("div", "bk-input", label, renderElement(block.element ?? {}, block.block_id, ctx));
  if (block.hint) wrapper.append(el("div", "bk-hint", renderText(block.hint, ctx.dir)));
  const error = ctx.errors?.[block.block_id];
  if (error) {
    wrapper.classList.add("has-error");
    wrapper.append(el("div", "bk-error", error));
  }
  return wrapper;
}

function richTextOf(element) {
  if (element.type === "text") return element.text ?? "";
  if (element.type === "link") return element.text ?? element.url ?? "";
  if (element.type === "emoji") return `:${element.name}:`;
  return (element.elements ?? []).map(richTextOf).join("");
}

function renderBlock(block, ctx) {
  switch (block.type) {
    case "header":
      return el("div", "bk-header", renderText(block.text, ctx.dir));
    case "section":
      return renderSection(block, ctx);
    case "context":
      return el(
        "div",
        "bk-context",
        ...(block.elements ?? []).map((e) =>
          e.type === "image" ? el("span", "bk-image", `[${e.alt_text ?? "image"}]`) : el("span", "", renderText(e, ctx.dir)),
        ),
      );
    case "divider":
      return el("hr", "bk-divider");
    case "actions":
      return el("div", "bk-actions", ...(block.elements ?? []).map((e) => renderElement(e, block.block_id, ctx)));
    case "input":
      return renderInput(block, ctx);
    case "image":
      return el("div", "bk-image", `[${block.alt_text ?? "image"}]`);
    case "rich_text":
      return el("div", "bk-text-block", richTextOf(block));
    default:
      return el("div", "bk-unsupported", `[${block.type} block]`);
  }
}

export function renderBlocks(blocks, ctx) {
  const out = el("div", "bk");
  for (const block of blocks ?? []) {
    const node = renderBlock(block, ctx);
    node.dataset.blockType = block.type;
    if (block.block_id) node.dataset.blockId = block.block_id;
    out.append(node);
  }
  return out;
}

// What the person entered: {block_id: {action_id: string | string[] | null}}.
export function readInputs(root) {
  const values = {};
  for (const node of root.querySelectorAll("[data-input]")) {
    const { blockId, actionId, input } = node.dataset;
    let value;
    if (input === "text") value = node.value === "" ? null : node.value;
    else if (input === "select") value = node.value === "" ? null : node.value;
    else if (input === "multi") value = [...node.selectedOptions].map((o) => o.value);
    else if (input === "checkboxes") value = [...node.querySelectorAll("input:checked")].map((i) => i.value);
    else if (input === "radio_buttons") value = node.querySelector("input:checked")?.value ?? null;
    (values[blockId] ??= {})[actionId] = value;
  }
  return values;
}

// Put earlier entries back after a re-render (Slack keeps input state across views.update).
export function restoreInputs(root, values) {
  for (const node of root.querySelectorAll("[data-input]")) {
    const { blockId, actionId, input } = node.dataset;
    const value = values?.[blockId]?.[actionId];
    if (value === undefined) continue;
    if (input === "text" || input === "select") node.value = value ?? "";
    else if (input === "multi") for (const o of node.options) o.selected = value.includes(o.value);
    else for (const box of node.querySelectorAll("input")) box.checked = [value].flat().includes(box.value);
  }
}
