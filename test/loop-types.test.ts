/**
 * Type-level guarantees of operations, checked with the TypeScript compiler itself: the fixture
 * marks each line that must not compile with @ts-expect-error, and an unneeded directive is an error.
 */
import * as path from 'path';
import * as ts from 'typescript';

test('a bare yield where yield* was meant does not compile; typed results do', () => {
  const fixture = path.join(__dirname, 'fixtures', 'operation-types.ts');
  const config = ts.getParsedCommandLineOfConfigFile(
    path.join(__dirname, '..', 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  )!;
  const program = ts.createProgram([fixture], { ...config.options, noEmit: true });
  const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file
      ? `${path.basename(d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}`
      : '';
    return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
  expect(diagnostics).toEqual([]);
  // The fixture really has the expected-error lines (so the check above is not vacuous).
  const text = ts.sys.readFile(fixture)!;
  expect(text.match(/^\s*\/\/ @ts-expect-error/gm)!.length).toBe(5);
});
