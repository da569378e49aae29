// The Datasets section's pages (/datasets/...), for the routes in app.tsx.

export { DatasetDiffPage } from './dataset_diff_page';
export { DatasetPage } from './dataset_page';
export { DatasetVersionPage } from './dataset_version_page';
export { DatasetsPage } from './datasets_page';
