export {
  AdmissionController,
  OverloadedError,
  isOverloadedError,
  type Admission,
  type AdmissionOptions,
  type AdmissionSnapshot,
  type ShedReason,
} from './lib/admission.controller';
export { loadAdmissionSettings, type AdmissionSettings } from './lib/admission.config';
export { installAdmission, SHED_HEADER, type AdmissionHookOptions } from './lib/admission.hook';
export { AdmissionModule, AdmissionService, type AdmissionModuleOptions } from './lib/admission.module';
