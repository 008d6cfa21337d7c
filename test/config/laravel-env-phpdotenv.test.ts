// The .env reader against phpdotenv v5's own expectations. Every row cites
// where its expected value comes from in vlucas/phpdotenv (tests/Dotenv/...,
// tests/fixtures/env/...) or laravel/framework (Illuminate\Support\Env::get,
// tests/Support/SupportHelpersTest.php); fixture texts are copied verbatim.
// Rows marked "derived" follow from src/Parser/EntryParser.php's state
// machine for an input its tests do not spell out.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { laravelEnv, parseEnvEntry, parseLaravelEnv, LaravelEnvSyntaxError } from '../../src/config/laravel-env.ts';

const FIXTURES: Record<string, string> = {
  '.env': 'FOO=bar\nBAR=baz\nSPACED="with spaces"\n\nNULL=\n',
  'commented.env': [
    '# This is a comment',
    'CFOO=bar',
    '#CBAR=baz',
    '#CZOO=goo # a comment on a commented row',
    'CSPACED="with spaces" # this is a comment',
    'CQUOTES="a value with a # character" # this is a comment',
    'CQUOTESWITHQUOTE="a value with a # character & a quote \\" character inside quotes" # " this is a comment',
    'EMPTY= # comment with empty variable',
    'EMPTY2=# comment with empty variable',
    'FOOO=foo# comment with no space',
    'BOOLEAN=yes # (yes, no)',
    '',
    'CNULL=',
    '',
    '## this is a comment ##',
    '',
  ].join('\n'),
  'quoted.env': [
    'QFOO="bar"',
    'QBAR="baz"',
    'QSPACED="with spaces"',
    'QEQUALS="pgsql:host=localhost;dbname=test"',
    '',
    'QNULL=""',
    'QWHITESPACE = "no space"',
    '',
    'QESCAPED="test some escaped characters like a quote (\\") or maybe a backslash (\\\\)"',
    'QSLASH="iiiiviiiixiiiiviiii\\\\n"',
    "SQSLASH='iiiiviiiixiiiiviiii\\\\n'",
    '',
  ].join('\n'),
  'specialchars.env': [
    'SPVAR1="$a6^C7k%zs+e^.jvjXk"',
    'SPVAR2="?BUty3koaV3%GA*hMAwH}B"',
    'SPVAR3="jdgEB4{QgEC]HL))&GcXxokB+wqoN+j>xkV7K?m$r"',
    'SPVAR4="22222:22#2^{"',
    'SPVAR5="test some escaped characters like a quote \\" or maybe a backslash \\\\" # not escaped',
    'SPVAR6=secret!@#',
    "SPVAR7='secret!@#'",
    'SPVAR8="secret!@#"',
    '',
  ].join('\n'),
  'nested.env': [
    'NVAR1="Hellō"',
    'NVAR2="World!"',
    'NVAR3="{$NVAR1} {$NVAR2}"',
    'NVAR4="${NVAR1} ${NVAR2}"',
    'NVAR5="$NVAR1 {NVAR2}"',
    'N.VAR6="Special Value"',
    'NVAR7="${N.VAR6}"',
    'NVAR8=""',
    'NVAR9="${NVAR8}"',
    'NVAR10="${NVAR888}"',
    'NVAR11="NVAR1"',
    'NVAR12="${${NVAR11}}"',
    "NVAR13='${${NVAR11}}'",
    "NVAR14='${NVAR1} ${NVAR2}'",
    'NVAR15="\\${NVAR1} \\${NVAR2}"',
    '',
  ].join('\n'),
  'multiline.env': [
    'TEST="test',
    '     test\\"test\\"',
    '     test"',
    '',
    'TEST_ND="test\\ntest"',
    "TEST_NS='test\\ntest'",
    '',
    'TEST_EQD="https://vision.googleapis.com/v1/images:annotate?key="',
    "TEST_EQS='https://vision.googleapis.com/v1/images:annotate?key='",
    '',
    'BASE64_ENCODED_MULTILINE="qS1zCzMVVUJWQShokv6YVYi+ruKSC/bHV7GmEiyVkLaBWJHNVHCHsgTksEBsy8wJ',
    'uwycAvR07ZyOJJed4XTRMKnKp1/v+6UATpWzkIjZXytK+pD+XlZimUHTx3uiDcmU',
    'jhQX1wWSxHDqrSWxeIJiTD+BuUyId8FzmXQ3TcBydJ474tmOU2F492ubk3LAiZ18',
    'mhiRGoshXAOSbS/P3+RZi4bDeNE/No4="',
    '',
  ].join('\n'),
  'exported.env': 'export\tEFOO="bar"\nexport EBAR = "baz"\nexport ESPACED="with spaces"\nexport "EDQUOTED" = 123\nexport \'ESQUOTED\' = 456\n\nexport    ENULL=""\n',
  'assertions.env': 'ASSERTVAR1=val1\n\nASSERTVAR2=""\n\nASSERTVAR3="val3   "\nASSERTVAR4="0" # empty looking value\nASSERTVAR5="#foo"\nASSERTVAR6="val1\nval2"\nASSERTVAR7="\nval3" #\n\n\nASSERTVAR8="val3\n"\nASSERTVAR9="\n\n"\n',
  'multiple.env': 'MULTI1=foo\nMULTI2=${MULTI1}\nMULTI1=bar\n\n',
  'empty.env': 'EMPTY_VAR\n',
  'unicodevarnames.env': "AlbertÅberg=Skybert\nДатаЗакрытияРасчетногоПериода='2022-04-01T00:00'\n",
  'utf8-with-bom-encoding.env': '\uFEFFFOO=bar\nBAR=baz\nSPACED="with spaces"\n',
};

// [fixture, key, expected value (undefined: not set), where phpdotenv asserts it]
const FIXTURE_ROWS: Array<[string, string, string | undefined, string]> = [
  ['.env', 'FOO', 'bar', 'DotenvTest::testDotenvLoadsEnvironmentVars'],
  ['.env', 'BAR', 'baz', 'DotenvTest::testDotenvLoadsEnvironmentVars'],
  ['.env', 'SPACED', 'with spaces', 'DotenvTest::testDotenvLoadsEnvironmentVars'],
  ['.env', 'NULL', '', 'DotenvTest::testDotenvLoadsEnvironmentVars'],
  ['commented.env', 'CFOO', 'bar', 'DotenvTest::testCommentedDotenvLoadsEnvironmentVars'],
  ['commented.env', 'CBAR', undefined, 'DotenvTest::testCommentedDotenvLoadsEnvironmentVars'],
  ['commented.env', 'CZOO', undefined, 'DotenvTest::testCommentedDotenvLoadsEnvironmentVars'],
  ['commented.env', 'CSPACED', 'with spaces', 'DotenvTest::testCommentedDotenvLoadsEnvironmentVars'],
  ['commented.env', 'CQUOTES', 'a value with a # character', 'DotenvTest::testCommentedDotenvLoadsEnvironmentVars'],
  ['commented.env', 'CQUOTESWITHQUOTE', 'a value with a # character & a quote " character inside quotes', 'DotenvTest::testCommentedDotenvLoadsEnvironmentVars'],
  ['commented.env', 'CNULL', '', 'DotenvTest::testCommentedDotenvLoadsEnvironmentVars'],
  ['commented.env', 'EMPTY', '', 'DotenvTest::testCommentedDotenvLoadsEnvironmentVars'],
  ['commented.env', 'EMPTY2', '', 'DotenvTest::testCommentedDotenvLoadsEnvironmentVars'],
  // `#` directly after an unquoted value, with no space, starts a comment.
  ['commented.env', 'FOOO', 'foo', 'DotenvTest::testCommentedDotenvLoadsEnvironmentVars'],
  ['commented.env', 'BOOLEAN', 'yes', 'derived: commented.env, unquoted then whitespace then #'],
  ['quoted.env', 'QFOO', 'bar', 'DotenvTest::testQuotedDotenvLoadsEnvironmentVars'],
  ['quoted.env', 'QBAR', 'baz', 'DotenvTest::testQuotedDotenvLoadsEnvironmentVars'],
  ['quoted.env', 'QSPACED', 'with spaces', 'DotenvTest::testQuotedDotenvLoadsEnvironmentVars'],
  ['quoted.env', 'QNULL', '', 'DotenvTest::testQuotedDotenvLoadsEnvironmentVars'],
  ['quoted.env', 'QEQUALS', 'pgsql:host=localhost;dbname=test', 'DotenvTest::testQuotedDotenvLoadsEnvironmentVars'],
  ['quoted.env', 'QESCAPED', 'test some escaped characters like a quote (") or maybe a backslash (\\)', 'DotenvTest::testQuotedDotenvLoadsEnvironmentVars'],
  ['quoted.env', 'QSLASH', 'iiiiviiiixiiiiviiii\\n', 'DotenvTest::testQuotedDotenvLoadsEnvironmentVars'],
  ['quoted.env', 'SQSLASH', 'iiiiviiiixiiiiviiii\\\\n', 'DotenvTest::testQuotedDotenvLoadsEnvironmentVars'],
  ['quoted.env', 'QWHITESPACE', 'no space', 'DotenvTest::testDotenvTrimmedKeys'],
  ['specialchars.env', 'SPVAR1', '$a6^C7k%zs+e^.jvjXk', 'DotenvTest::testDotenvAllowsSpecialCharacters'],
  ['specialchars.env', 'SPVAR2', '?BUty3koaV3%GA*hMAwH}B', 'DotenvTest::testDotenvAllowsSpecialCharacters'],
  ['specialchars.env', 'SPVAR3', 'jdgEB4{QgEC]HL))&GcXxokB+wqoN+j>xkV7K?m$r', 'DotenvTest::testDotenvAllowsSpecialCharacters'],
  ['specialchars.env', 'SPVAR4', '22222:22#2^{', 'DotenvTest::testDotenvAllowsSpecialCharacters'],
  ['specialchars.env', 'SPVAR5', 'test some escaped characters like a quote " or maybe a backslash \\', 'DotenvTest::testDotenvAllowsSpecialCharacters'],
  ['specialchars.env', 'SPVAR6', 'secret!@', 'DotenvTest::testDotenvAllowsSpecialCharacters'],
  ['specialchars.env', 'SPVAR7', 'secret!@#', 'DotenvTest::testDotenvAllowsSpecialCharacters'],
  ['specialchars.env', 'SPVAR8', 'secret!@#', 'DotenvTest::testDotenvAllowsSpecialCharacters'],
  ['nested.env', 'NVAR3', '{$NVAR1} {$NVAR2}', 'DotenvTest::testDotenvNestedEnvironmentVars'],
  ['nested.env', 'NVAR4', 'Hellō World!', 'DotenvTest::testDotenvNestedEnvironmentVars'],
  ['nested.env', 'NVAR5', '$NVAR1 {NVAR2}', 'DotenvTest::testDotenvNestedEnvironmentVars'],
  ['nested.env', 'N.VAR6', 'Special Value', 'DotenvTest::testDotenvNestedEnvironmentVars'],
  ['nested.env', 'NVAR7', 'Special Value', 'DotenvTest::testDotenvNestedEnvironmentVars'],
  ['nested.env', 'NVAR8', '', 'DotenvTest::testDotenvNestedEnvironmentVars'],
  ['nested.env', 'NVAR9', '', 'DotenvTest::testDotenvNestedEnvironmentVars'],
  // An unset variable stays literal.
  ['nested.env', 'NVAR10', '${NVAR888}', 'DotenvTest::testDotenvNestedEnvironmentVars'],
  ['nested.env', 'NVAR11', 'NVAR1', 'DotenvTest::testDotenvNestedEnvironmentVars'],
  ['nested.env', 'NVAR12', 'Hellō', 'DotenvTest::testDotenvNestedEnvironmentVars'],
  ['nested.env', 'NVAR13', '${${NVAR11}}', 'DotenvTest::testDotenvNestedEnvironmentVars'],
  ['nested.env', 'NVAR14', '${NVAR1} ${NVAR2}', 'DotenvTest::testDotenvNestedEnvironmentVars'],
  // "\${x}" is ${x}.
  ['nested.env', 'NVAR15', '${NVAR1} ${NVAR2}', 'DotenvTest::testDotenvNestedEnvironmentVars'],
  ['multiline.env', 'TEST', 'test\n     test"test"\n     test', 'DotenvTest::testMultilineLoading'],
  ['multiline.env', 'TEST_ND', 'test\ntest', 'DotenvTest::testMultilineLoading'],
  ['multiline.env', 'TEST_NS', 'test\\ntest', 'DotenvTest::testMultilineLoading'],
  ['multiline.env', 'TEST_EQD', 'https://vision.googleapis.com/v1/images:annotate?key=', 'DotenvTest::testMultilineLoading'],
  ['multiline.env', 'TEST_EQS', 'https://vision.googleapis.com/v1/images:annotate?key=', 'DotenvTest::testMultilineLoading'],
  [
    'multiline.env',
    'BASE64_ENCODED_MULTILINE',
    'qS1zCzMVVUJWQShokv6YVYi+ruKSC/bHV7GmEiyVkLaBWJHNVHCHsgTksEBsy8wJ\nuwycAvR07ZyOJJed4XTRMKnKp1/v+6UATpWzkIjZXytK+pD+XlZimUHTx3uiDcmU\njhQX1wWSxHDqrSWxeIJiTD+BuUyId8FzmXQ3TcBydJ474tmOU2F492ubk3LAiZ18\nmhiRGoshXAOSbS/P3+RZi4bDeNE/No4=',
    'LinesTest::testProcessQuotes',
  ],
  ['exported.env', 'EFOO', 'bar', 'DotenvTest::testExportedDotenvLoadsEnvironmentVars'],
  ['exported.env', 'EBAR', 'baz', 'DotenvTest::testExportedDotenvLoadsEnvironmentVars'],
  ['exported.env', 'ESPACED', 'with spaces', 'DotenvTest::testExportedDotenvLoadsEnvironmentVars'],
  ['exported.env', 'EDQUOTED', '123', 'DotenvTest::testExportedDotenvLoadsEnvironmentVars'],
  ['exported.env', 'ESQUOTED', '456', 'DotenvTest::testExportedDotenvLoadsEnvironmentVars'],
  ['exported.env', 'ENULL', '', 'DotenvTest::testExportedDotenvLoadsEnvironmentVars'],
  ['assertions.env', 'ASSERTVAR1', 'val1', 'LinesTest::testProcessBasic'],
  ['assertions.env', 'ASSERTVAR2', '', 'LinesTest::testProcessBasic'],
  ['assertions.env', 'ASSERTVAR3', 'val3   ', 'LinesTest::testProcessBasic'],
  ['assertions.env', 'ASSERTVAR4', '0', 'LinesTest::testProcessBasic'],
  ['assertions.env', 'ASSERTVAR5', '#foo', 'LinesTest::testProcessBasic'],
  ['assertions.env', 'ASSERTVAR6', 'val1\nval2', 'LinesTest::testProcessBasic'],
  ['assertions.env', 'ASSERTVAR7', '\nval3', 'LinesTest::testProcessBasic'],
  ['assertions.env', 'ASSERTVAR8', 'val3\n', 'LinesTest::testProcessBasic'],
  ['assertions.env', 'ASSERTVAR9', '\n\n', 'LinesTest::testProcessBasic'],
  ['multiple.env', 'MULTI1', 'bar', 'DotenvTest::testMultipleDotenvLoadsEnvironmentVars'],
  ['multiple.env', 'MULTI2', 'foo', 'DotenvTest::testMultipleDotenvLoadsEnvironmentVars'],
  ['empty.env', 'EMPTY_VAR', undefined, "DotenvTest::testEmptyLoading (['EMPTY_VAR' => null]: cleared, not set)"],
  ['unicodevarnames.env', 'AlbertÅberg', 'Skybert', 'DotenvTest::testUnicodeVarNames'],
  ['unicodevarnames.env', 'ДатаЗакрытияРасчетногоПериода', '2022-04-01T00:00', 'DotenvTest::testUnicodeVarNames'],
  ['utf8-with-bom-encoding.env', 'FOO', 'bar', 'StoreTest::testFileReadWithUtf8WithBomEncoding'],
  ['utf8-with-bom-encoding.env', 'SPACED', 'with spaces', 'StoreTest::testFileReadWithUtf8WithBomEncoding'],
];

// [entry, name, chars (undefined: no value), variable offsets, source]: EntryParser::parse on one entry.
const ENTRY_ROWS: Array<[string, string, string | undefined, number[], string]> = [
  ['FOO=BAR', 'FOO', 'BAR', [], 'EntryParserTest::testBasicParse'],
  ['FOO', 'FOO', undefined, [], 'EntryParserTest::testNullParse'],
  ['FOOƱ=BAZ', 'FOOƱ', 'BAZ', [], 'EntryParserTest::testUnicodeNameParse'],
  ['FOO="BAR  \n"', 'FOO', 'BAR  \n', [], 'EntryParserTest::testQuotesParse'],
  ['FOO="\\n"', 'FOO', '\n', [], 'EntryParserTest::testNewlineParse'],
  ['FOO="\\t"', 'FOO', '\t', [], 'EntryParserTest::testTabParseDouble'],
  ["FOO='\\t'", 'FOO', '\\t', [], 'EntryParserTest::testTabParseSingle'],
  ['FOO=\\n\\v', 'FOO', '\\n\\v', [], 'EntryParserTest::testNonEscapeParse1'],
  ['FOO=\\q', 'FOO', '\\q', [], 'EntryParserTest::testNonEscapeParse2'],
  ['FOO=$BAR', 'FOO', '$BAR', [0], 'EntryParserTest::testInlineVariable'],
  ['FOO=AAA$BAR', 'FOO', 'AAA$BAR', [3], 'EntryParserTest::testInlineVariableOffset'],
  ['FOO="TEST $BAR $$BAZ"', 'FOO', 'TEST $BAR $$BAZ', [11, 10, 5], 'EntryParserTest::testInlineVariables'],
  ["FOO='TEST $BAR $$BAZ'", 'FOO', 'TEST $BAR $$BAZ', [], 'EntryParserTest::testNonInlineVariable'],
  ['FOO="\n"', 'FOO', '\n', [], 'EntryParserTest::testWhitespaceParse'],
  ['export FOO="bar baz"', 'FOO', 'bar baz', [], 'EntryParserTest::testExportParse'],
  ["export\t\"FOO\"='bar baz'", 'FOO', 'bar baz', [], 'EntryParserTest::testExportParseTab'],
  [
    'SPVAR5="test some escaped characters like a quote \\" or maybe a backslash \\\\" # not escaped',
    'SPVAR5',
    'test some escaped characters like a quote " or maybe a backslash \\',
    [],
    'EntryParserTest::testClosingSlashParse',
  ],
  ["FOO_BAD='iiiiviiiixiiiiviiii\\a'", 'FOO_BAD', 'iiiiviiiixiiiiviiii\\a', [], 'EntryParserTest::testParserEscapingSingle'],
  // \f and \v are escapes in double quotes too (ESCAPE_SEQUENCE_STATE: f, n, r, t, v).
  ['FOO="a\\fb\\vc\\rd"', 'FOO', 'a\fb\vc\rd', [], 'derived: EntryParser ESCAPE_SEQUENCE_STATE'],
  ['FOO="\\$BAR"', 'FOO', '$BAR', [], 'derived: EntryParser ESCAPE_SEQUENCE_STATE, an escaped $ is no variable'],
  ['FOO=abc#def', 'FOO', 'abc', [], 'derived: EntryParser UNQUOTED_STATE, # starts a comment (as FOOO in commented.env)'],
  ['APP_URL=http://x.test#frag', 'APP_URL', 'http://x.test', [], 'derived: EntryParser UNQUOTED_STATE, # starts a comment'],
  ['APP_URL="http://x.test#frag"', 'APP_URL', 'http://x.test#frag', [], 'derived: EntryParser DOUBLE_QUOTED_STATE keeps #'],
  ['FOO=a"b\'c', 'FOO', 'a"b\'c', [], 'derived: EntryParser UNQUOTED_STATE, quotes inside an unquoted value are kept'],
];

// [entry, phpdotenv's error message, source]
const ERROR_ROWS: Array<[string, string, string]> = [
  ['FOO="\\q"', 'Encountered an unexpected escape sequence at ["\\q"].', 'EntryParserTest::testBadEscapeParse'],
  ['export "FOO="bar baz"', 'Encountered an invalid name at ["FOO].', 'EntryParserTest::testExportParseFail'],
  ['FOO=bar baz', 'Encountered unexpected whitespace at [bar baz].', 'EntryParserTest::testParseInvalidSpaces'],
  ['=', 'Encountered an unexpected equals at [=].', 'EntryParserTest::testParseStrayEquals'],
  ['FOO_ASD!=BAZ', 'Encountered an invalid name at [FOO_ASD!].', 'EntryParserTest::testParseInvalidName'],
  ['FOO_BAD="iiiiviiiixiiiiviiii\\a"', 'Encountered an unexpected escape sequence at ["iiiiviiiixiiiiviiii\\a"].', 'EntryParserTest::testParserEscapingDouble'],
  ["TEST='erert", "Encountered a missing closing quote at ['erert].", 'EntryParserTest::testParserMissingClosingSingleQuote'],
  ['TEST="erert', 'Encountered a missing closing quote at ["erert].', 'EntryParserTest::testParserMissingClosingDoubleQuote'],
  ["TEST=\"erert\nTEST='erert\n", 'Encountered a missing closing quote at ["erert].', 'EntryParserTest::testParserMissingClosingQuotes'],
  ['TEST="\\', 'Encountered a missing closing quote at ["\\].', 'EntryParserTest::testParserClosingQuoteWithEscape'],
  ['FOO="""', 'Encountered unexpected whitespace at ["""].', 'LoaderTest::testLoaderWithGarbage'],
  ['FOO="a"b', 'Encountered unexpected whitespace at ["a"b].', 'derived: EntryParser WHITESPACE_STATE after a closing quote'],
];

// [raw value as phpdotenv stores it, Env::get result, source]
const ENV_GET_ROWS: Array<[string, string | boolean | null, string]> = [
  ['bar', 'bar', 'SupportHelpersTest::testEnv'],
  ['true', true, 'SupportHelpersTest::testEnvTrue'],
  ['(true)', true, 'SupportHelpersTest::testEnvTrue'],
  ['false', false, 'SupportHelpersTest::testEnvFalse'],
  ['(false)', false, 'SupportHelpersTest::testEnvFalse'],
  ['', '', 'SupportHelpersTest::testEnvEmpty'],
  ['empty', '', 'SupportHelpersTest::testEnvEmpty'],
  ['(empty)', '', 'SupportHelpersTest::testEnvEmpty'],
  ['null', null, 'SupportHelpersTest::testEnvNull'],
  ['(null)', null, 'SupportHelpersTest::testEnvNull'],
  ['NULL', null, 'Env::getOption (strtolower)'],
  ['"null"', 'null', 'SupportHelpersTest::testEnvEscapedString'],
  ["'null'", 'null', 'SupportHelpersTest::testEnvEscapedString'],
  ['x"null"x', 'x"null"x', 'SupportHelpersTest::testEnvEscapedString'],
  ['"secret"', 'secret', "Env::getOption: /\\A(['\"])(.*)\\1\\z/"],
];

describe('phpdotenv fixtures, file by file', () => {
  for (const [fixture, key, expected, source] of FIXTURE_ROWS) {
    test(`${fixture} ${key} = ${JSON.stringify(expected)} (${source})`, () => {
      const values = parseLaravelEnv(FIXTURES[fixture]!, { environment: {} });
      assert.equal(values[key], expected);
    });
  }
});

describe('phpdotenv EntryParser, entry by entry', () => {
  for (const [entry, name, chars, variables, source] of ENTRY_ROWS) {
    test(`${JSON.stringify(entry)} (${source})`, () => {
      const parsed = parseEnvEntry(entry);
      assert.equal(parsed.name, name);
      assert.equal(parsed.value?.chars, chars);
      if (parsed.value) assert.deepEqual(parsed.value.variables, variables);
    });
  }
  for (const [entry, message, source] of ERROR_ROWS) {
    test(`${JSON.stringify(entry)} is refused (${source})`, () => {
      assert.throws(
        () => parseEnvEntry(entry),
        (error: unknown) => error instanceof LaravelEnvSyntaxError && error.message === message,
      );
    });
  }
});

describe("Laravel's Env::get", () => {
  for (const [raw, expected, source] of ENV_GET_ROWS) {
    test(`${JSON.stringify(raw)} -> ${JSON.stringify(expected)} (${source})`, () => {
      assert.equal(laravelEnv({ KEY: raw }, 'KEY'), expected);
    });
  }
  test('an unset key is undefined, so the config default applies (SupportHelpersTest::testEnvDefault)', () => {
    assert.equal(laravelEnv({}, 'KEY'), undefined);
  });
  test("a single-quoted '\"secret\"' in the .env reaches the app as secret", () => {
    assert.equal(laravelEnv(parseLaravelEnv(`DB_PASSWORD='"secret"'\n`), 'DB_PASSWORD'), 'secret');
  });
});

describe('whole files', () => {
  test('the last definition wins, and a bare name clears it (ParserTest::testFullParse, Loader)', () => {
    assert.deepEqual(parseLaravelEnv('FOO=BAR\nFOO\nFOO="BAR  \n"\nFOO="\\n"', { environment: {} }), { FOO: '\n' });
    assert.deepEqual(parseLaravelEnv('FOO=BAR\nFOO\n', { environment: {} }), {});
  });
  test('${VAR} of earlier keys (DotenvTest::testDotenvParseExample1/2)', () => {
    assert.deepEqual(parseLaravelEnv('BASE_DIR="/var/webroot/project-root"\nCACHE_DIR="${BASE_DIR}/cache"\nTMP_DIR="${BASE_DIR}/tmp"\n', { environment: {} }), {
      BASE_DIR: '/var/webroot/project-root',
      CACHE_DIR: '/var/webroot/project-root/cache',
      TMP_DIR: '/var/webroot/project-root/tmp',
    });
    assert.deepEqual(parseLaravelEnv('FOO=Bar\nBAZ="Hello ${FOO}"', { environment: {} }), { FOO: 'Bar', BAZ: 'Hello Bar' });
  });
  test('${VAR} falls back to the given environment; an unknown one stays literal', () => {
    assert.deepEqual(parseLaravelEnv('A=${FROM_ENV}\nB=${UNSET}', { environment: { FROM_ENV: 'x' } }), { A: 'x', B: '${UNSET}' });
  });
  test('an empty file gives nothing (DotenvTest::testDotenvParseEmptyCase); CRLF and CR line ends split lines', () => {
    assert.deepEqual(parseLaravelEnv('', { environment: {} }), {});
    assert.deepEqual(parseLaravelEnv('A=1\r\nB=2\rC="x"\r\n', { environment: {} }), { A: '1', B: '2', C: 'x' });
  });
  test('a refused line names its line number, as a LaravelEnvSyntaxError', () => {
    assert.throws(
      () => parseLaravelEnv('A=1\n\nDB_PASSWORD=two words\n', { environment: {} }),
      (error: unknown) => error instanceof LaravelEnvSyntaxError && error.line === 3 && error.key === 'DB_PASSWORD',
    );
  });
});
