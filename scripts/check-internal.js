#!/usr/bin/env node
/**
 * Fails when a file in one folder of lib/ uses a declaration marked `@internal` in another folder
 * (`npm run lint`). dependency-cruiser sees files, not TSDoc tags, so it cannot check this.
 *
 * A folder is a directory directly holding the file (lib/loop, lib/relay…); the files at the root
 * of lib/ are a folder of their own. What counts as a use, checked with the type checker:
 * - an import of a top-level declaration (`import { X }`, a default import, `ns.X` through
 *   `import * as ns`), type-only imports included;
 * - a member reached by name (`value.member`, `Type.member`, `Ns.Type` in a type) whose
 *   declaration is marked, on a value of whatever type;
 * - `new C(…)` where the constructor C resolves to is marked.
 * Members reached by computed name (`value['member']`) or by destructuring are not seen.
 *
 * Usage: node scripts/check-internal.js [ROOT]   (default lib; prints file:line for each use, exit 1)
 */
'use strict';
const fs = require('fs');
const path = require('path');
const ts = require('typescript');

function sources(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

function compilerOptions() {
  const file = path.join(__dirname, '..', 'tsconfig.json');
  const { config } = ts.readConfigFile(file, ts.sys.readFile);
  return ts.parseJsonConfigFileContent(config, ts.sys, path.dirname(file)).options;
}

function isInternal(decl) {
  return ts.getJSDocTags(decl).some((t) => t.tagName.text === 'internal');
}

/** The uses of `@internal` declarations of another folder in the .ts files under `root`. */
function check(root) {
  root = path.resolve(root);
  const files = sources(root);
  const program = ts.createProgram(files, { ...compilerOptions(), noEmit: true });
  const checker = program.getTypeChecker();
  const folderOf = (file) => path.relative(root, path.dirname(path.resolve(file))) || '.';
  const inRoot = (file) => !path.relative(root, path.resolve(file)).startsWith('..');
  const found = [];

  for (const file of files) {
    const sf = program.getSourceFile(file);
    const here = folderOf(file);
    const report = (node, symbol, decl) => {
      const { line } = sf.getLineAndCharacterOfPosition(node.getStart(sf));
      found.push({
        file: path.relative(process.cwd(), file),
        line: line + 1,
        symbol: symbol.getName(),
        from: path.relative(process.cwd(), decl.getSourceFile().fileName),
      });
    };
    const foreign = (d) =>
      isInternal(d) && inRoot(d.getSourceFile().fileName) && folderOf(d.getSourceFile().fileName) !== here;
    const use = (node) => {
      let symbol = checker.getSymbolAtLocation(node);
      if (!symbol) return;
      if (symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
      const decl = (symbol.declarations ?? []).find(foreign);
      if (decl) report(node, symbol, decl);
    };
    const construct = (node) => {
      const decl = checker.getResolvedSignature(node)?.declaration;
      if (decl && ts.isConstructorDeclaration(decl) && foreign(decl)) {
        report(node.expression, { getName: () => `new ${decl.parent.name?.text ?? '(class)'}` }, decl);
      }
    };
    const visit = (node) => {
      if (ts.isImportSpecifier(node)) use(node.name);
      else if (ts.isImportClause(node) && node.name) use(node.name);
      else if (ts.isPropertyAccessExpression(node)) use(node.name);
      else if (ts.isQualifiedName(node)) use(node.right);
      else if (ts.isNewExpression(node)) construct(node);
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return found;
}

module.exports = { check };

if (require.main === module) {
  const root = process.argv[2] ?? path.join(__dirname, '..', 'lib');
  const found = check(root);
  for (const f of found) {
    console.error(`${f.file}:${f.line}: ${f.symbol} is @internal in ${f.from} (another folder)`);
  }
  if (found.length > 0) {
    console.error(`${found.length} use(s) of @internal declarations across folders`);
    process.exit(1);
  }
}
