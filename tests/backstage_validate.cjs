// Validate Backstage catalog entities (a JSON array on stdin) with @backstage/catalog-model's
// own validators: the envelope and entity JSON schemas, the catalog's field-format policies,
// the schema of each entity's kind, and the entity references in spec.owner / providesApis.
// Prints one line per problem and exits 1 if there is any. Placeholders ($text) must already be
// resolved, as the catalog does before it validates.
"use strict";
const model = require("@backstage/catalog-model");

const kinds = [
  model.componentEntityV1alpha1Validator,
  model.apiEntityV1alpha1Validator,
  model.systemEntityV1alpha1Validator,
  model.groupEntityV1alpha1Validator,
];

const policies = model.EntityPolicies.allOf([
  new model.DefaultNamespaceEntityPolicy(),
  new model.NoForeignRootFieldsEntityPolicy(),
  new model.FieldFormatEntityPolicy(),
]);
const names = model.makeValidator();

function checkRef(ref, defaultKind) {
  const parsed = model.parseEntityRef(ref, { defaultKind, defaultNamespace: "default" });
  if (!names.isValidEntityName(parsed.name)) {
    throw new Error(`${JSON.stringify(ref)} is not a valid entity reference`);
  }
}

async function validate(entity) {
  model.entityEnvelopeSchemaValidator()(entity);
  model.entitySchemaValidator()(entity);
  await policies.enforce(entity);
  const spec = entity.spec || {};
  if (spec.owner !== undefined) checkRef(spec.owner, "group");
  for (const api of spec.providesApis || []) checkRef(api, "api");
  for (const kind of kinds) {
    if (await kind.check(entity)) return;
  }
  throw new Error(`no validator knows kind ${entity.kind} (${entity.apiVersion})`);
}

async function main() {
  let input = "";
  for await (const chunk of process.stdin) input += chunk;
  const entities = JSON.parse(input);
  let failed = 0;
  for (const entity of entities) {
    const name = `${entity && entity.kind}:${entity && entity.metadata && entity.metadata.name}`;
    try {
      await validate(entity);
      console.log(`ok ${name}`);
    } catch (error) {
      failed += 1;
      console.log(`invalid ${name}: ${error.message}`);
    }
  }
  process.exit(failed ? 1 : 0);
}

main().catch((error) => {
  console.log(`error: ${error.message}`);
  process.exit(2);
});
