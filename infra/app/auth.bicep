// App Service Authentication ("Easy Auth", Microsoft Entra ID) in front of the whole app: every
// request needs a signed-in user, except the health probe and the two OAuth callbacks that Loket
// and AFAS SB redirect browsers to (they carry ?code=&state= and are checked by the app itself).
// Unauthenticated API calls get 401 (no login redirect); browsers sign in at /.auth/login/aad.
// The app trusts X-MS-CLIENT-PRINCIPAL only because this is on (WEBSITE_AUTH_ENABLED).
param functionAppName string
@description('Application (client) id of the Entra ID app registration.')
param clientId string
@description('True when MICROSOFT_PROVIDER_AUTHENTICATION_SECRET (a Key Vault reference) is set.')
param useClientSecret bool = false
@description('OpenID issuer, e.g. https://login.microsoftonline.com/<tenant>/v2.0.')
param openIdIssuer string

// Paths reachable without sign-in. Nothing else: the OpenAPI document and any portal page stay
// behind sign-in (share /.auth/login/aad?post_login_redirect_uri=/api/... with users).
var excludedPaths = [
  '/api/health'
  '/api/oauth/loket/callback'
  '/api/oauth/afas-sb/callback'
]

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov:skip=CKV_AZURE_13: this resource IS App Service Authentication (authsettingsV2, Entra ID, requireAuthentication); the check only knows the legacy siteAuthSettings shape.
  // checkov:skip=CKV_AZURE_63: authsettingsV2 child resource, not site configuration; the check reads nothing here. Logs go to Application Insights.
  // checkov:skip=CKV_AZURE_65: authsettingsV2 child resource, not site configuration; the check reads nothing here.
  // checkov:skip=CKV_AZURE_66: authsettingsV2 child resource, not site configuration; the check reads nothing here.
  // checkov:skip=CKV_AZURE_80: authsettingsV2 child resource, not site configuration; the check reads nothing here. The app is Python, not .NET.
  // checkov:skip=CKV_AZURE_88: authsettingsV2 child resource, not site configuration; the check reads nothing here. Flex Consumption has no Azure Files mount.
  // checkov:skip=CKV_AZURE_222: authsettingsV2 child resource, not site configuration; the check reads nothing here. Public access is required for sign-in and OAuth callbacks (see api.bicep).
  parent: functionApp
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
      runtimeVersion: '~1'
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
      excludedPaths: excludedPaths
    }
    httpSettings: {
      requireHttps: true
      routes: {
        apiPrefix: '/.auth'
      }
      forwardProxy: {
        convention: 'NoProxy'
      }
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: clientId
          openIdIssuer: openIdIssuer
          clientSecretSettingName: useClientSecret ? 'MICROSOFT_PROVIDER_AUTHENTICATION_SECRET' : null
        }
        validation: {
          allowedAudiences: [
            'api://${clientId}'
            clientId
          ]
        }
      }
    }
    login: {
      // Flex Consumption has no persistent file system for the token store; not needed here.
      tokenStore: {
        enabled: false
      }
      preserveUrlFragmentsForLogins: false
    }
  }
}

output excludedPaths array = excludedPaths
