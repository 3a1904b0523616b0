// Activates editors/vscode/extension.js as VS Code would, with `vscode` and
// `vscode-languageclient/node` replaced by recorders (neither runs outside VS Code). The
// recorded language client really starts the server command the extension chose and
// initializes it over stdio, so the test proves that command line starts a working
// `nsr lsp`. Usage: node activate.js SCENARIO (prints what happened as JSON).
//   with-path: PATH holds nsr;  no-nsr: PATH does not;  setting: nsr.path names it;
//   disabled: nsr.lsp is false.
const Module = require('module');
const path = require('path');
const { spawn } = require('child_process');

const scenario = process.argv[2];
const nsr = process.env.NSR_BIN;
const seen = { clients: [], commands: [], messages: [], opened: [], initialized: null };
const settings = { path: 'nsr', lsp: true, libs: ['/lib/dir'] };
if (scenario === 'setting') settings.path = nsr;
if (scenario === 'disabled') settings.lsp = false;
process.env.PATH = scenario === 'with-path' ? path.dirname(nsr) : '/nonexistent';

function initialize(command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'ignore'] });
    let buf = Buffer.alloc(0);
    child.stdout.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const text = buf.toString();
      const at = text.indexOf('\r\n\r\n');
      if (at >= 0) {
        const len = parseInt(/Content-Length: (\d+)/.exec(text)[1], 10);
        const body = buf.subarray(at + 4, at + 4 + len);
        if (body.length === len) {
          child.kill();
          resolve(JSON.parse(body.toString()));
        }
      }
    });
    child.on('error', reject);
    const msg = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { capabilities: {} } });
    child.stdin.write(`Content-Length: ${Buffer.byteLength(msg)}\r\n\r\n${msg}`);
  });
}

class LanguageClient {
  constructor(id, name, server, options) {
    this.record = { id, server, libs: options.initializationOptions.libs, selector: options.documentSelector };
    this.middleware = options.middleware;
    seen.clients.push(this.record);
  }
  async start() {
    const answer = await initialize(this.record.server.command, this.record.server.args);
    seen.initialized = answer.result.serverInfo.name;
    seen.executeCommand = answer.result.capabilities.executeCommandProvider.commands;
  }
  async sendRequest(method, params) {
    return `plan for ${params.arguments[0]}`;
  }
}

const vscode = {
  workspace: {
    getConfiguration: () => ({ get: (k) => settings[k] }),
    openTextDocument: async (d) => { seen.opened.push(d.content); return d; },
  },
  window: {
    showInformationMessage: (m) => seen.messages.push(m),
    showTextDocument: async () => {},
    activeTextEditor: { document: { uri: { toString: () => 'file:///r.nsr' } } },
  },
  commands: { registerCommand: (name, f) => { seen.commands.push(name); seen[name] = f; return {}; } },
  ViewColumn: { Beside: -2 },
};

const load = Module._load;
Module._load = function (request, parent, isMain) {
  if (request === 'vscode') return vscode;
  if (request === 'vscode-languageclient/node') return { LanguageClient };
  return load.call(this, request, parent, isMain);
};

(async () => {
  const ext = require(path.join(__dirname, '..', 'extension.js'));
  const client = await ext.activate({ subscriptions: [] });
  if (client) {
    // The plan from the command palette, and from the server's code action.
    await seen['nsr.plan']();
    await client.middleware.executeCommand('nsr.showPlan', ['file:///r.nsr'], async () => 'plan text');
  }
  delete seen['nsr.plan'];
  process.stdout.write(JSON.stringify(seen));
})().catch((e) => { console.error(e); process.exit(1); });
