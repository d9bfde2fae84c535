// Early feedback on the tool editor's text, before the engine sees it: JSON syntax, the shape
// of each tool, and which of the accepted formats it is in. The engine canonicalises and has
// the last word (its bad_tools errors are shown in the same place).

/** The format of one tool, as the engine will read it (NEEDLE.md section 7). */
export function toolFormat(tool) {
  if (tool.type === 'function' && tool.function && typeof tool.function === 'object') return 'OpenAI';
  if (tool.type === 'function') return 'OpenAI (flat)';
  if ('input_schema' in tool) return 'Anthropic';
  if ('inputSchema' in tool) return 'MCP';
  const p = tool.parameters;
  if (p && typeof p === 'object' && p.properties && typeof p.properties === 'object') return 'JSON Schema';
  return 'Needle flat';
}

function toolName(tool) {
  return tool.type === 'function' && tool.function && typeof tool.function === 'object' ? tool.function.name : tool.name;
}

/**
 * text -> { tools, formats, error }: `tools` is an array (one object becomes [object]),
 * `formats` one entry per tool, `error` a message or null.
 */
export function checkTools(text) {
  if (text.trim() === '') return { tools: [], formats: [], error: 'the tool list is empty: paste a JSON array of tools, or pick a preset' };
  let value;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { tools: [], formats: [], error: `not valid JSON: ${e.message}${lineColumn(text, e.message)}` };
  }
  const tools = Array.isArray(value) ? value : [value];
  if (value === null || typeof value !== 'object')
    return { tools: [], formats: [], error: 'tools must be a JSON array of tools, or one tool object' };
  const formats = [];
  for (const [i, tool] of tools.entries()) {
    if (tool === null || typeof tool !== 'object' || Array.isArray(tool))
      return { tools, formats, error: `tools[${i}] is not an object` };
    const name = toolName(tool);
    if (typeof name !== 'string' || name === '')
      return { tools, formats, error: `tools[${i}] has no "name"${tool.type === 'function' && tool.function ? ' (in "function")' : ''}` };
    formats.push(toolFormat(tool));
  }
  return { tools, formats, error: null };
}

// Engines that report only "at position N" get the line and column added.
function lineColumn(text, message) {
  if (/line \d+/.test(message)) return '';
  const m = /position (\d+)/.exec(message);
  if (!m) return '';
  const before = text.slice(0, Number(m[1])).split('\n');
  return ` (line ${before.length}, column ${before.at(-1).length + 1})`;
}
