-- Drives `whetstone lsp` the way a developer does in Neovim: open calc.py, attach the server,
-- ask for code actions on a diagnostic, run "Ask Whetstone to fix this", wait for the edit.
-- Writes what happened to $OUT as JSON. Works with Neovim 0.7 (Debian bookworm) and later.
local repo, out = os.getenv('REPO'), os.getenv('OUT')
local report = { progress = {}, messages = {}, errors = {} }
local function finish()
  vim.fn.writefile({ vim.fn.json_encode(report) }, out)
  vim.cmd('qa!')
end
local function fail(message)
  table.insert(report.errors, message)
  finish()
end

local progress = vim.lsp.handlers['$/progress']
local token
vim.lsp.handlers['$/progress'] = function(err, result, ctx, config)
  local value = result.value or {}
  token = result.token
  table.insert(report.progress, (value.kind or '?') .. ': ' .. (value.message or value.title or ''))
  return progress(err, result, ctx, config)
end
vim.lsp.handlers['window/showMessage'] = function(_, result)
  table.insert(report.messages, result.message)
end

vim.cmd('edit ' .. repo .. '/calc.py')
local buf = vim.api.nvim_get_current_buf()
local client_id = vim.lsp.start_client({
  name = 'whetstone',
  cmd = { os.getenv('WHETSTONE_BIN'), 'lsp' },
  root_dir = repo,
  init_options = { solveUrl = os.getenv('SOLVE_URL'), apiKey = os.getenv('API_KEY'), agent = os.getenv('AGENT') },
})
if not client_id then return fail('start_client failed') end
vim.lsp.buf_attach_client(buf, client_id)
local client
vim.wait(30000, function()
  client = vim.lsp.get_client_by_id(client_id)
  return client ~= nil and client.initialized and client.server_capabilities ~= nil
end, 20)
if not (client and client.initialized) then return fail('the server did not initialize') end

local diagnostic = {
  range = { start = { line = 1, character = 4 }, ['end'] = { line = 1, character = 16 } },
  severity = 1,
  source = 'pytest',
  message = os.getenv('DIAGNOSTIC') or 'test_add: assert add(2, 3) == 5, got -1',
}
local response = client.request_sync('textDocument/codeAction', {
  textDocument = { uri = vim.uri_from_bufnr(buf) },
  range = diagnostic.range,
  context = { diagnostics = { diagnostic } },
}, 10000, buf)
if not response or response.err then return fail('codeAction failed: ' .. vim.inspect(response)) end
local action
for _, candidate in ipairs(response.result or {}) do
  if candidate.title == 'Ask Whetstone to fix this' then action = candidate end
end
report.actions = vim.tbl_map(function(candidate) return candidate.title end, response.result or {})
if not action then return fail('no "Ask Whetstone to fix this" action') end

local executed = client.request_sync('workspace/executeCommand', action.command, 10000, buf)
if not executed or executed.err then return fail('executeCommand failed: ' .. vim.inspect(executed)) end

-- With $CANCEL set, the developer cancels the progress once the agent runs.
if os.getenv('CANCEL') then
  local started = vim.wait(30000, function()
    return vim.tbl_contains(report.progress, 'report: running on runner-1')
  end, 20)
  if not started then return fail('the job never started') end
  client.notify('window/workDoneProgress/cancel', { token = token })
end

-- The job ends with a message either way: after the edit, or instead of it.
vim.wait(30000, function() return #report.messages > 0 end, 50)
report.calc = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
local test_buf = vim.fn.bufnr(repo .. '/test_calc.py')
report.test_calc = test_buf ~= -1 and vim.api.nvim_buf_get_lines(test_buf, 0, -1, false) or vim.NIL
finish()
