/*
 * OHIF 3.13 configuration for simcase: one DICOMweb data source, Orthanc behind the
 * same origin (docker/ohif/serve.py or any proxy that maps /dicom-web and /wado to
 * Orthanc). Settings verified against Orthanc 1.10 + DICOMweb plugin 1.7.
 */
window.config = {
  routerBasename: '/',
  showStudyList: true,
  investigationalUseDialog: { option: 'never' },
  extensions: [],
  modes: [],
  showWarningMessageForCrossOrigin: false,
  showCPUFallbackMessage: false,
  showLoadingIndicator: true,
  strictZSpacingForVolumeViewport: true,
  defaultDataSourceName: 'dicomweb',
  dataSources: [
    {
      namespace: '@ohif/extension-default.dataSourcesModule.dicomweb',
      sourceName: 'dicomweb',
      configuration: {
        friendlyName: 'Orthanc (simcase)',
        name: 'orthanc',
        qidoRoot: window.location.origin + '/dicom-web',
        wadoRoot: window.location.origin + '/dicom-web',
        wadoUriRoot: window.location.origin + '/wado',
        qidoSupportsIncludeField: false,
        supportsReject: false,
        imageRendering: 'wadors',
        thumbnailRendering: 'wadors',
        enableStudyLazyLoad: true,
        supportsFuzzyMatching: false,
        supportsWildcard: true,
        omitQuotationForMultipartRequest: true,
        // With 'pdf' here OHIF asks Orthanc DICOMweb 1.7 for /rendered, which answers 400.
        singlepart: 'bulkdata,video',
        bulkDataURI: { enabled: true, relativeResolution: 'studies' },
      },
    },
  ],
};
