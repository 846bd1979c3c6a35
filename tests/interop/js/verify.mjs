// Verifies the eddsa-rdfc-2022 proof of credentials with the Digital Bazaar /
// DCC stack (jsonld-signatures, @digitalbazaar/data-integrity,
// @digitalbazaar/eddsa-rdfc-2022-cryptosuite), fully offline: the document
// loader knows only the contexts, verification method and controller
// document passed in, and throws on any other URL.
//
// With "statusLists" ({url: BitstringStatusListCredential}) it also checks
// each credential's status as a standard Bitstring Status List verifier does
// (@digitalbazaar/vc-bitstring-status-list: the list's own proof verified,
// then the credential's bit read).
//
// stdin: {"contexts": {url: document}, "publicKeyMultibase": "z6Mk...",
//         "verificationMethod": "did:web:...#key-1", "credentials": [ ... ],
//         "statusLists": {url: document}}
// stdout: [{"verified": bool, "safeExpansion": bool, "error": "...",
//           "status": {"verified": bool, "set": bool, "error": "..."}}] per credential.
import {checkStatus} from '@digitalbazaar/vc-bitstring-status-list';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import jsigs from 'jsonld-signatures';
import jsonld from 'jsonld';

const {purposes: {AssertionProofPurpose}} = jsigs;

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function offlineLoader({contexts, publicKeyMultibase, verificationMethod, statusLists = {}}) {
  const controller = verificationMethod.split('#')[0];
  const documents = new Map([...Object.entries(contexts), ...Object.entries(statusLists)]);
  documents.set(verificationMethod, {
    '@context': 'https://w3id.org/security/multikey/v1',
    id: verificationMethod, type: 'Multikey', controller, publicKeyMultibase,
  });
  documents.set(controller, {
    '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/multikey/v1'],
    id: controller, assertionMethod: [verificationMethod],
  });
  return async url => {
    if(!documents.has(url)) {
      throw new Error(`offline loader: refusing to load ${url}`);
    }
    return {contextUrl: null, documentUrl: url, document: structuredClone(documents.get(url))};
  };
}

function message(error) {
  if(!error) {
    return '';
  }
  const errors = Array.isArray(error) ? error : [error];
  return errors.map(e => `${e.name}: ${e.message}`).join('; ');
}

const input = await readStdin();
const documentLoader = offlineLoader(input);
const outcomes = [];
for(const credential of input.credentials) {
  const suite = new DataIntegrityProof({cryptosuite});
  const result = await jsigs.verify(credential, {
    suite, purpose: new AssertionProofPurpose(), documentLoader,
  });
  let safeExpansion = true;
  let expansionError = '';
  try {
    await jsonld.expand(credential, {documentLoader, safe: true});
  } catch(error) {
    safeExpansion = false;
    expansionError = message(error);
  }
  const outcome = {
    verified: result.verified,
    safeExpansion,
    error: [message(result.error), expansionError].filter(Boolean).join('; '),
  };
  if(input.statusLists) {
    const status = await checkStatus({
      credential, documentLoader, suite: new DataIntegrityProof({cryptosuite}),
    });
    const revocation = (status.results || []).find(r => r.credentialStatus.statusPurpose === 'revocation');
    outcome.status = {
      verified: status.verified, set: revocation ? revocation.status === true : null, error: message(status.error),
    };
  }
  outcomes.push(outcome);
}
process.stdout.write(JSON.stringify(outcomes));
