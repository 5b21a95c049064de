import { HighlightStyle } from "@codemirror/language";
import { tags } from "@lezer/highlight";

// CodeMirror's default colours include some under WCAG AA contrast on white; these all reach 4.5:1.
export const readableHighlight = HighlightStyle.define([
  { tag: tags.keyword, color: "#6d28d9", fontWeight: "600" },
  { tag: [tags.string, tags.special(tags.string)], color: "#9f1239" },
  { tag: [tags.number, tags.bool, tags.null], color: "#166534" },
  { tag: [tags.comment, tags.lineComment, tags.blockComment], color: "#4b5563", fontStyle: "italic" },
  { tag: [tags.operator, tags.punctuation, tags.bracket], color: "#1f2937" },
  { tag: [tags.typeName, tags.standard(tags.name)], color: "#1e40af" },
  { tag: [tags.name, tags.variableName, tags.propertyName, tags.special(tags.name)], color: "#111827" },
  { tag: tags.invalid, color: "#b91c1c" },
]);
