const KEY = "molesignal.recentQueries";
const MAX = 20;

export function recentQueries(): string[] {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(KEY) ?? "[]");
    return Array.isArray(parsed) ? parsed.filter((q): q is string => typeof q === "string") : [];
  } catch {
    return [];
  }
}

export function remember(sql: string): string[] {
  const text = sql.trim();
  const list = [text, ...recentQueries().filter((q) => q !== text)].slice(0, MAX);
  localStorage.setItem(KEY, JSON.stringify(list));
  return list;
}
