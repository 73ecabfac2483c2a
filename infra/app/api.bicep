// The Function App: Flex Consumption (FC1) on Linux, Python 3.11, running as the user-assigned
// identity. Every setting the app reads (shared/settings.py) is set here; secrets are Key Vault
// references, storage is identity-based. tests/infra checks this file against the app.
param name string
param planName string
param location string = resourceGroup().location
param tags object = {}
param serviceName string = 'api'

param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerName string
param applicationInsightsName string

param tokenEncryptionKeySecretUri string
@description('Empty outside a key rotation: then TOKEN_ENCRYPTION_KEYS_PREVIOUS is not set.')
param tokenEncryptionKeysPreviousSecretUri string = ''
param loketClientSecretUri string
param afasSbClientSecretUri string
@description('Empty when sign-in uses no client secret.')
param authClientSecretUri string = ''

@minValue(40) // [I] Flex Consumption's lowest accepted value
@maxValue(1000)
param maximumInstanceCount int = 40
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

param publicBaseUrl string = ''
param loketAuthUrl string
param loketApiUrl string
param loketClientId string
param afasProfitUrl string
param afasSbUrl string
param afasSbClientId string
@description('AFAS partner IntegrationId; empty: the IntegrationId header is not sent.')
param afasIntegrationId string = ''
@description('Host patterns an AFAS SB API server may have (AFAS_SB_ALLOWED_HOSTS).')
param afasSbAllowedHosts string = '*.afasfocus.nl'
param nightlyLocalHour int = 2
@minValue(1)
@maxValue(7)
param reconciliationWeekday int = 1
@minValue(1)
@maxValue(100)
param auditRetentionYears int = 7
@description('Empty: the app sends no e-mail notifications.')
param acsEmailEndpoint string = ''
param notifySender string = ''

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: no zone redundancy for a nightly batch on Flex Consumption; a zone outage delays a run, the queue retries it, and the ledger keeps it exactly-once.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true // Linux
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: public network access is how users, Loket and AFAS (OAuth redirects) reach the app; Easy Auth (auth.bicep) requires sign-in for everything but health and the callbacks.
  // checkov:skip=CKV_AZURE_17: no client certificates; browsers (sign-in, OAuth callbacks) must reach the app, and Easy Auth authenticates users.
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales to zero between nightly runs; there are no fixed instances to keep for failover.
  // checkov:skip=CKV_AZURE_213: the App Service health-check (instance replacement) does not apply to Flex Consumption's on-demand instances; /api/health is served anonymously for external probes.
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Key Vault references in app settings resolve with the user-assigned identity.
    keyVaultReferenceIdentity: identityId
    publicNetworkAccess: 'Enabled'
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
  }
}

// No FTP or basic-auth (publishing profile) deployments; azd deploys with Entra ID.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

var keyVaultReference = '@Microsoft.KeyVault(SecretUri='

// Host storage without keys: the identity and one URI per service (blob: host state and timer
// checkpoints; queue: the sync queue; table: the app's tables). The app reads the same settings.
var storageSettings = {
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
  AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
  AzureWebJobsStorage__tableServiceUri: storage.properties.primaryEndpoints.table
}

// Application Insights with local auth off: the exporter authenticates as the identity.
var telemetrySettings = {
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

// The app's settings (contract §1). Secrets are Key Vault references only.
var appSettings = {
  LOONBRUG_ENVIRONMENT: 'production'
  PUBLIC_BASE_URL: empty(publicBaseUrl) ? 'https://${functionApp.properties.defaultHostName}' : publicBaseUrl
  // The portal page: where the OAuth callbacks land (#/connections) and e-mail links point.
  // In Azure "/" is the Functions default page, not the portal.
  PORTAL_URL: empty(publicBaseUrl) ? 'https://${functionApp.properties.defaultHostName}/api/portal/' : '${publicBaseUrl}/api/portal/'
  LOKET_AUTH_URL: loketAuthUrl
  LOKET_API_URL: loketApiUrl
  LOKET_CLIENT_ID: loketClientId
  LOKET_CLIENT_SECRET: '${keyVaultReference}${loketClientSecretUri})'
  AFAS_PROFIT_URL: afasProfitUrl
  AFAS_SB_URL: afasSbUrl
  AFAS_SB_CLIENT_ID: afasSbClientId
  AFAS_SB_ALLOWED_HOSTS: afasSbAllowedHosts
  AFAS_SB_CLIENT_SECRET: '${keyVaultReference}${afasSbClientSecretUri})'
  AFAS_INTEGRATION_ID: afasIntegrationId
  TOKEN_ENCRYPTION_KEY: '${keyVaultReference}${tokenEncryptionKeySecretUri})'
  NIGHTLY_LOCAL_HOUR: string(nightlyLocalHour)
  RECONCILIATION_WEEKDAY: string(reconciliationWeekday)
  AUDIT_RETENTION_YEARS: string(auditRetentionYears)
  ACS_EMAIL_ENDPOINT: acsEmailEndpoint
  NOTIFY_SENDER: notifySender
  // For azure-identity in the app (DefaultAzureCredential picks the user-assigned identity).
  AZURE_CLIENT_ID: identityClientId
}

// Only during a key rotation (a reference to a missing secret would not resolve).
var rotationSettings = empty(tokenEncryptionKeysPreviousSecretUri) ? {} : {
  TOKEN_ENCRYPTION_KEYS_PREVIOUS: '${keyVaultReference}${tokenEncryptionKeysPreviousSecretUri})'
}

// Read by App Service Authentication (auth.bicep), not by the app.
var authSettings = empty(authClientSecretUri) ? {} : {
  MICROSOFT_PROVIDER_AUTHENTICATION_SECRET: '${keyVaultReference}${authClientSecretUri})'
}

resource appSettingsConfig 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov:skip=CKV_AZURE_13: appsettings child resource, not site configuration; the check reads nothing here (the site itself is covered above). Authentication is configured in auth.bicep.
  // checkov:skip=CKV_AZURE_63: appsettings child resource, not site configuration; the check reads nothing here (the site itself is covered above). Logs go to Application Insights.
  // checkov:skip=CKV_AZURE_65: appsettings child resource, not site configuration; the check reads nothing here (the site itself is covered above).
  // checkov:skip=CKV_AZURE_66: appsettings child resource, not site configuration; the check reads nothing here (the site itself is covered above).
  // checkov:skip=CKV_AZURE_80: appsettings child resource, not site configuration; the check reads nothing here (the site itself is covered above). The app is Python, not .NET.
  // checkov:skip=CKV_AZURE_88: appsettings child resource, not site configuration; the check reads nothing here (the site itself is covered above). Flex Consumption has no Azure Files mount; state is in Table storage.
  // checkov:skip=CKV_AZURE_222: appsettings child resource, not site configuration; the check reads nothing here (the site itself is covered above). See the site's CKV_AZURE_222 justification.
  parent: functionApp
  name: 'appsettings'
  properties: union(storageSettings, telemetrySettings, appSettings, rotationSettings, authSettings)
}

output name string = functionApp.name
output uri string = 'https://${functionApp.properties.defaultHostName}'
output publicBaseUrl string = empty(publicBaseUrl) ? 'https://${functionApp.properties.defaultHostName}' : publicBaseUrl
output portalUrl string = empty(publicBaseUrl) ? 'https://${functionApp.properties.defaultHostName}/api/portal/' : '${publicBaseUrl}/api/portal/'
