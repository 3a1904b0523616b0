// The nsr extension: the grammar and snippets are declared in package.json; this starts
// the language server, `nsr lsp`, when nsr is found (see server.js), and opens the plan
// the server's "show the plan" command answers with beside the recipe.
const vscode = require('vscode');
const { findNsr } = require('./server');

let client = null;

async function showPlan(text) {
  if (typeof text !== 'string') {
    return;
  }
  const doc = await vscode.workspace.openTextDocument({ content: text, language: 'plaintext' });
  await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preview: true });
}

async function activate(context) {
  const config = vscode.workspace.getConfiguration('nsr');
  if (config.get('lsp') === false) {
    return null;
  }
  const command = findNsr(config.get('path'), process.env.PATH);
  if (!command) {
    // Highlighting and snippets still work; say once why there is no more.
    vscode.window.showInformationMessage(
      `nsr: "${config.get('path') || 'nsr'}" is not on PATH, so recipes get highlighting but no language server (set nsr.path).`);
    return null;
  }
  const { LanguageClient } = require('vscode-languageclient/node');
  const server = { command, args: ['lsp'] };
  client = new LanguageClient('nsr', 'nsr language server', server, {
    documentSelector: [{ language: 'nsr' }],
    initializationOptions: { libs: config.get('libs') || [] },
    middleware: {
      // The server's nsr.showPlan (from a code action) answers with the plan's text.
      executeCommand: async (cmd, args, next) => {
        const result = await next(cmd, args);
        if (cmd === 'nsr.showPlan') {
          await showPlan(result);
        }
        return result;
      },
    },
  });
  context.subscriptions.push(
    vscode.commands.registerCommand('nsr.plan', async () => {
      const editor = vscode.window.activeTextEditor;
      if (!editor || !client) {
        return;
      }
      const text = await client.sendRequest('workspace/executeCommand', {
        command: 'nsr.showPlan',
        arguments: [editor.document.uri.toString()],
      });
      await showPlan(text);
    }),
  );
  await client.start();
  return client;
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
