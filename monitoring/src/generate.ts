// Writes the dashboard JSON (and its k8s copy) and the PrometheusRule from rules.yml:
// `npx nx run monitoring:generate`. monitoring's tests fail while a written file is out of date.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generatedFiles, ROOT } from './artifacts';

for (const [path, text] of Object.entries(generatedFiles())) {
  writeFileSync(join(ROOT, path), text);
  console.log(`wrote ${path}`);
}
