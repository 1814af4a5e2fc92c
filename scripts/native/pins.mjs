/**
 * What the native-backend install step pins: the TensorFlow wheels libtensorflow is taken from and
 * the headers the tfjs-node binding compiles against. One place, so a version bump is one edit.
 */

/** TensorFlow release whose wheel provides libtensorflow. */
export const TF_VERSION = '2.21.0';

/**
 * The exact wheel file of each variant. pip is told the platform and Python tags explicitly, so the
 * same file is chosen whatever Python runs pip; the libraries inside do not depend on Python.
 * `sha256` is PyPI's digest of that file (null where it could not be pinned: pip still checks the
 * digest the index publishes, and the install step records what it got).
 */
export const WHEELS = {
  cpu: {
    requirement: `tensorflow-cpu==${TF_VERSION}`,
    file: `tensorflow_cpu-${TF_VERSION}-cp311-cp311-manylinux_2_27_x86_64.whl`,
    sha256: '2b847d217b02ee7731ed91431daf3250daa0196c3c94614d23be27232e6e5b6c',
  },
  gpu: {
    requirement: `tensorflow==${TF_VERSION}`,
    file: `tensorflow-${TF_VERSION}-cp311-cp311-manylinux_2_27_x86_64.whl`,
    sha256: null,
  },
};

/** pip arguments that fix the wheel's tags (see WHEELS). */
export const PIP_TAGS = [
  '--only-binary=:all:',
  '--python-version',
  '3.11',
  '--implementation',
  'cp',
  '--abi',
  'cp311',
  '--platform',
  'manylinux_2_27_x86_64',
];

/** The tfjs-node package of each variant (both are optionalDependencies of tailor). */
export const PACKAGES = { cpu: '@tensorflow/tfjs-node', gpu: '@tensorflow/tfjs-node-gpu' };

/** Headers the binding's sources include; the extractor adds everything they include in turn. */
export const BINDING_HEADERS = [
  'tensorflow/c/c_api.h',
  'tensorflow/c/eager/c_api.h',
  'tensorflow/c/tf_datatype.h',
  'tensorflow/c/tf_status.h',
  'tensorflow/c/tf_tensor.h',
  'tensorflow/core/platform/ctstring_internal.h',
];
